-- Jan Server's edge logic, run by Envoy's Lua filter before ext_authz and the gRPC-JSON transcoder.
--
-- On requests:
--   * drop client-supplied identity headers (x-jan-*); only the auth service's ext_authz answer sets them;
--   * list query parameters as the OpenAI SDKs send them (emails[]=a&emails[]=b, percent-encoded or not)
--     become the repeated form the transcoder reads (emails=a&emails=b);
--   * POST /v1/chat/completions: read the top-level keys of the JSON body; with "stream": true, send the
--     request to the server-sent-events RPC (/v1/chat/completions:stream); pass the key list on in
--     x-jan-body-keys so the chat service can reject fields it does not know by name (the transcoder
--     silently drops unknown JSON fields);
--   * grpc.health.v1 calls: route to the service named in the request (x-jan-health-target).
-- On responses:
--   * an error a service described in its x-jan-error trailer becomes the body, in OpenAI's error shape;
--     its x-jan-retry-after trailer (a refusal that knows when to come back) becomes retry-after.
--
-- A Lua error does not fail the request (Envoy logs it and goes on); watch http.jan_edge.lua.errors.

local IDENTITY_HEADERS = {
  "x-jan-user-id", "x-jan-org-id", "x-jan-project-id", "x-jan-org-role", "x-jan-project-role",
  "x-jan-key-type", "x-jan-key-id", "x-jan-body-keys", "x-jan-health-target",
}

local HEALTH_TARGETS = {
  ["jan.v1.ChatService"] = "chat",
  ["jan.v1.ResponsesService"] = "chat",
  ["jan.v1.InferenceService"] = "inference",
  ["jan.v1.SearchService"] = "search",
}

-- Scans a JSON object's top level without a JSON library: returns its keys and the literal value of
-- "stream" (e.g. "true"), or nil when the text is not a JSON object. Strings are skipped whole, so a
-- "stream" inside a message or a nested object is never mistaken for the top-level one.
local function scan_top_level(body)
  local first = body:find("%S")
  if not first or body:sub(first, first) ~= "{" then
    return nil
  end
  local keys, stream = {}, nil
  local depth, pos, expecting_key, last_key = 0, first, false, nil
  while true do
    local s, _, c = body:find('(["{}%[%]:,])', pos)
    if not s then
      break
    end
    if c == '"' then
      local j = s + 1
      local q
      while true do
        q = body:find('["\\]', j)
        if not q then
          return nil
        end
        if body:sub(q, q) == "\\" then
          j = q + 2
        else
          break
        end
      end
      if depth == 1 and expecting_key then
        last_key = body:sub(s + 1, q - 1)
        keys[#keys + 1] = last_key
        expecting_key = false
      end
      pos = q + 1
    else
      if c == "{" or c == "[" then
        depth = depth + 1
        if depth == 1 then
          expecting_key = true
        end
      elseif c == "}" or c == "]" then
        depth = depth - 1
      elseif c == "," and depth == 1 then
        expecting_key = true
      elseif c == ":" and depth == 1 and last_key == "stream" then
        stream = body:match("^%s*([%w]+)", s + 1)
      end
      pos = s + 1
    end
  end
  return keys, stream
end

-- Returns true when the path's query had list parameters (key[]=v) and was rewritten to key=v.
local function normalize_list_query(headers)
  local path = headers:get(":path") or ""
  local query = path:find("?", 1, true)
  if not query then
    return false
  end
  local fixed, encoded = path:sub(query + 1):gsub("%%5[Bb]%%5[Dd]=", "=")
  local fixed_again, plain = fixed:gsub("%[%]=", "=")
  if encoded + plain == 0 then
    return false
  end
  headers:replace(":path", path:sub(1, query) .. fixed_again)
  return true
end

local function route_chat_completion(handle, headers)
  local body = handle:body()
  if body == nil then
    return
  end
  local keys, stream = scan_top_level(body:getBytes(0, body:length()))
  if keys == nil then
    return -- not a JSON object: the transcoder answers 400
  end
  -- Headers must be fetched again after body(): the earlier handle is no longer valid.
  headers = handle:headers()
  headers:replace("x-jan-body-keys", table.concat(keys, ","))
  if stream == "true" then
    local path = headers:get(":path")
    local query = path:find("?", 1, true)
    local rest = query and path:sub(query) or ""
    headers:replace(":path", "/v1/chat/completions:stream" .. rest)
    handle:clearRouteCache()
  end
end

local function route_health_check(handle)
  local body = handle:body()
  local target = nil
  if body ~= nil then
    local bytes = body:getBytes(0, body:length())
    for service, name in pairs(HEALTH_TARGETS) do
      if bytes:find(service, 1, true) then
        target = name
      end
    end
  end
  if target then
    handle:headers():replace("x-jan-health-target", target)
    handle:clearRouteCache()
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  for _, name in ipairs(IDENTITY_HEADERS) do
    headers:remove(name)
  end
  if normalize_list_query(headers) then
    handle:clearRouteCache()
  end
  local path = headers:get(":path") or ""
  local method = headers:get(":method")
  if method == "POST" and (path == "/v1/chat/completions" or path:find("^/v1/chat/completions%?")) then
    route_chat_completion(handle, headers)
  elseif path:find("^/grpc%.health%.v1%.Health/") then
    route_health_check(handle)
  end
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local err = headers:get("x-jan-error")
  if err == nil then
    return
  end
  local content_type = headers:get("content-type") or ""
  if content_type:find("^application/grpc") then
    return -- native gRPC callers read the status and its details
  end
  headers:remove("x-jan-error")
  local retry_after = headers:get("x-jan-retry-after")
  if retry_after ~= nil then
    headers:remove("x-jan-retry-after")
    headers:replace("retry-after", retry_after)
  end
  headers:replace("content-type", "application/json")
  handle:body():setBytes(err)
end
