-- Jan Server's edge logic, run by Envoy's Lua filter before ext_authz and the gRPC-JSON transcoder.
--
-- On requests:
--   * drop client-supplied identity headers (x-jan-*); only the auth service's ext_authz answer sets them;
--   * list query parameters as the OpenAI SDKs send them (emails[]=a&emails[]=b, percent-encoded or not)
--     become the repeated form the transcoder reads (emails=a&emails=b), and object ones
--     (effective_at[gt]=1) the nested field form (effective_at.gt=1);
--   * POST /v1/chat/completions and /v1/responses (and /v1/responses/input_tokens): read the top-level keys
--     of the JSON body; with "stream": true, send the request to the server-sent-events RPC
--     (/v1/chat/completions:stream, /v1/responses:stream); pass the key list on in
--     x-jan-body-keys so the chat service can reject fields it does not know by name (the transcoder
--     silently drops unknown JSON fields). A body with more than MAX_BODY_KEYS top-level keys, or more than
--     MAX_BODY_KEYS_BYTES of them, is refused here (400): the list would not fit in gRPC metadata, and no
--     chat completion has that many fields;
--   * GET /v1/responses/{id}?stream=true: to the stored response's event stream (/v1/responses/{id}:stream);
--   * grpc.health.v1 calls: route to the service named in the request (x-jan-health-target).
-- On responses:
--   * an error a service described in its x-jan-error trailer becomes the body, in OpenAI's error shape;
--     its x-jan-retry-after trailer (a refusal that knows when to come back) becomes retry-after;
--   * an error status without it (gRPC's own refusals, such as a message or metadata over the limit, which the
--     transcoder turns into a google.rpc.Status JSON body) gets an OpenAI error body too, with a fixed message:
--     no raw status, and none of its text (which can list the request's headers), reaches a REST client.
--
-- A Lua error does not fail the request (Envoy logs it and goes on); watch http.jan_edge.lua.errors.

local IDENTITY_HEADERS = {
  "x-jan-user-id", "x-jan-org-id", "x-jan-project-id", "x-jan-org-role", "x-jan-project-role",
  "x-jan-key-type", "x-jan-key-id", "x-jan-guest", "x-jan-identity-signature", "x-jan-body-keys",
  "x-jan-health-target", "x-jan-grpc-caller",
}

-- x-jan-body-keys must fit in gRPC metadata with the client's headers (services accept 64 KiB of it).
local MAX_BODY_KEYS = 128
local MAX_BODY_KEYS_BYTES = 4096

local HEALTH_TARGETS = {
  ["jan.v1.SignInService"] = "auth",
  ["jan.v1.OrganizationService"] = "auth",
  ["jan.v1.ProjectControlsService"] = "auth",
  ["jan.v1.ChatService"] = "chat",
  ["jan.v1.ResponsesService"] = "chat",
  ["jan.v1.UsageService"] = "chat",
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

-- Returns true when the path's query had list parameters (key[]=v) or object parameters (key[field]=v, as
-- in effective_at[gt]=v) and was rewritten to key=v or key.field=v, the forms the transcoder reads.
local function normalize_list_query(headers)
  local path = headers:get(":path") or ""
  local query = path:find("?", 1, true)
  if not query then
    return false
  end
  local q, changed = path:sub(query + 1), 0
  local n
  for _, form in ipairs({ { "%%5[Bb]", "%%5[Dd]" }, { "%[", "%]" } }) do
    local open, close = form[1], form[2]
    q, n = q:gsub(open .. close .. "=", "=")
    changed = changed + n
    -- Only at a key's start (after ? or &): a value may hold brackets of its own.
    q, n = ("&" .. q):gsub("&([%w_]+)" .. open .. "([%w_]+)" .. close .. "=", "&%1.%2=")
    q = q:sub(2)
    changed = changed + n
  end
  if changed == 0 then
    return false
  end
  headers:replace(":path", path:sub(1, query) .. q)
  return true
end

-- POST bodies whose top-level keys the service checks, and the path a "stream": true body goes to.
local JSON_BODY_ROUTES = {
  ["/v1/chat/completions"] = "/v1/chat/completions:stream",
  ["/v1/responses"] = "/v1/responses:stream",
  ["/v1/responses/input_tokens"] = false,
}

local function route_json_body(handle, headers, stream_path)
  local body = handle:body()
  if body == nil then
    return
  end
  local keys, stream = scan_top_level(body:getBytes(0, body:length()))
  if keys == nil then
    return -- not a JSON object: the transcoder answers 400
  end
  local joined = table.concat(keys, ",")
  if #keys > MAX_BODY_KEYS or #joined > MAX_BODY_KEYS_BYTES then
    -- A plain-text reason: local_reply_config makes it OpenAI's error body, with this code.
    handle:streamInfo():dynamicMetadata():set("jan.edge", "refusal", "too_many_fields")
    handle:respond(
      { [":status"] = "400", ["content-type"] = "text/plain" },
      string.format(
        "The request body has too many top-level fields (at most %d, with %d bytes of names)",
        MAX_BODY_KEYS,
        MAX_BODY_KEYS_BYTES
      )
    )
    return
  end
  -- Headers must be fetched again after body(): the earlier handle is no longer valid.
  headers = handle:headers()
  headers:replace("x-jan-body-keys", joined)
  if stream == "true" and stream_path then
    local path = headers:get(":path")
    local query = path:find("?", 1, true)
    local rest = query and path:sub(query) or ""
    headers:replace(":path", stream_path .. rest)
    handle:clearRouteCache()
  end
end

-- GET /v1/responses/{id}?stream=true: the stored response's events (StreamStoredResponse).
local function route_stored_response_stream(handle, headers, path)
  local id, query = path:match("^/v1/responses/([%w_%-]+)%?(.*)$")
  if id == nil then
    return
  end
  for pair in query:gmatch("[^&]+") do
    if pair == "stream=true" then
      headers:replace(":path", "/v1/responses/" .. id .. ":stream?" .. query)
      handle:clearRouteCache()
      return
    end
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
  -- ext_authz is told a native gRPC caller by this header, not by content-type: with content-type
  -- application/grpc on the check itself, Envoy's own reply to a check that cannot reach the auth service is
  -- gRPC-shaped (HTTP 200, grpc-status 14), which ext_authz took for an allow.
  if (headers:get("content-type") or ""):find("^application/grpc") then
    headers:replace("x-jan-grpc-caller", "1")
  end
  if normalize_list_query(headers) then
    handle:clearRouteCache()
  end
  local path = headers:get(":path") or ""
  local method = headers:get(":method")
  local route = path:match("^([^?]*)")
  local stream_path = JSON_BODY_ROUTES[route]
  if method == "POST" and stream_path ~= nil then
    route_json_body(handle, headers, stream_path)
  elseif method == "GET" and route:find("^/v1/responses/[%w_%-]+$") then
    route_stored_response_stream(handle, headers, path)
  elseif path:find("^/grpc%.health%.v1%.Health/") then
    route_health_check(handle)
  end
end

-- gRPC statuses that reach a REST client without a service's x-jan-error (the transcoder's JSON of a
-- google.rpc.Status): which HTTP status and OpenAI error they become. gRPC's own limits answer
-- RESOURCE_EXHAUSTED; as 429 the SDKs would retry a request that can never pass.
local RAW_STATUS_ERRORS = {
  metadata = { "431", "The request headers are too large", "request_headers_too_large" },
  message = { "413", "The request is too large", "request_too_large" },
}
local HTTP_ERROR_TYPES = {
  ["400"] = "invalid_request_error",
  ["401"] = "authentication_error",
  ["403"] = "permission_error",
  ["404"] = "invalid_request_error",
  ["409"] = "invalid_request_error",
  ["429"] = "rate_limit_error",
  ["499"] = "invalid_request_error",
  ["501"] = "not_implemented_error",
  ["503"] = "service_unavailable_error",
  ["504"] = "timeout_error",
}

local function openai_error(message, type_, code)
  return string.format('{"error":{"message":"%s","type":"%s","param":null,"code":%s}}', message, type_,
    code and ('"' .. code .. '"') or "null")
end

-- A google.rpc.Status JSON body ({"code":N,"message":...}) becomes an OpenAI error with a fixed message.
local function reshape_raw_status(handle, headers, status)
  local body = handle:body()
  if body == nil then
    return
  end
  local bytes = body:getBytes(0, body:length())
  if not bytes:find('^%s*{%s*"code"%s*:') then
    return -- already an OpenAI error (Envoy's local replies are shaped by local_reply_config)
  end
  headers = handle:headers()
  local grpc_code = bytes:match('^%s*{%s*"code"%s*:%s*(%d+)') or "2"
  local mapped = nil
  if grpc_code == "8" then
    if bytes:find("metadata", 1, true) then
      mapped = RAW_STATUS_ERRORS.metadata
    elseif bytes:find("message larger than max", 1, true) then
      mapped = RAW_STATUS_ERRORS.message
    end
  end
  if mapped then
    status = mapped[1]
    headers:replace(":status", status)
    body:setBytes(openai_error(mapped[2], "invalid_request_error", mapped[3]))
  elseif status >= "500" and status ~= "501" and status ~= "503" and status ~= "504" then
    body:setBytes(openai_error("The server had an error while processing your request", "server_error", nil))
  else
    local type_ = HTTP_ERROR_TYPES[status] or "invalid_request_error"
    body:setBytes(openai_error("The request failed (gRPC status " .. grpc_code .. ")", type_, nil))
  end
  headers:replace("content-type", "application/json")
end

function envoy_on_response(handle)
  local headers = handle:headers()
  local err = headers:get("x-jan-error")
  if err == nil then
    local status = headers:get(":status") or "200"
    local content_type = headers:get("content-type") or ""
    if #status == 3 and status >= "400" and content_type:find("^application/json") then
      reshape_raw_status(handle, headers, status)
    end
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
