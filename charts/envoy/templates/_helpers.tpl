{{/*
cors.allowedOrigins as one exact-match regex, escaped as devstack/envoy_config.py's origin_regex does; with no
origins, a regex no Origin header matches (an empty one is no CORS request).
*/}}
{{- define "envoy.corsOriginRegex" -}}
{{- $quoted := list -}}
{{- range .Values.cors.allowedOrigins -}}
{{- $quoted = append $quoted (regexQuoteMeta (lower .)) -}}
{{- end -}}
{{- if $quoted -}}
{{- printf "^(%s)$" (join "|" $quoted) -}}
{{- else -}}
^$
{{- end -}}
{{- end -}}

{{/*
The values of envoy/envoy.yaml's ${NAME} placeholders: the same names devstack/envoy_config.py fills for a
local run, here with cluster addresses.
*/}}
{{- define "envoy.placeholders" -}}
{{- $values := dict
    "LISTEN_ADDRESS" .Values.listen.address
    "LISTEN_PORT" .Values.listen.port
    "ADMIN_ADDRESS" .Values.admin.address
    "ADMIN_PORT" .Values.admin.port
    "CONFIG_DIR" .Values.configDir
    "CORS_ALLOWED_ORIGIN_REGEX" (include "envoy.corsOriginRegex" .)
    "MAX_REQUEST_BYTES" (printf "%d" (int64 .Values.limits.maxRequestBytes))
    "TOO_LARGE_BODY_BYTES" (printf "%d" (add1 (int64 .Values.limits.maxRequestBytes)))
    "MAX_REQUEST_HEADERS_KB" (printf "%d" (int64 .Values.limits.maxRequestHeadersKb))
    "REQUEST_HEADERS_TIMEOUT" .Values.timeouts.requestHeaders
    "REQUEST_TIMEOUT" .Values.timeouts.request
    "TRUSTED_PROXY_HOPS" (printf "%d" (int64 .Values.trustedProxyHops))
    "HEALTH_CHECK_INTERVAL" .Values.healthCheckInterval -}}
{{- range $service := list "auth" "chat" "inference" "search" }}
{{- $upstream := index $.Values.upstreams $service -}}
{{- $_ := set $values (printf "%s_HOST" (upper $service)) ($upstream.host | default (include "jan-common.siblingHost" (list $ $service))) -}}
{{- $_ := set $values (printf "%s_PORT" (upper $service)) $upstream.port -}}
{{- end }}
{{- /* The auth service's second port, its HTTP ext_authz endpoint, on AUTH_HOST. */ -}}
{{- $_ := set $values "AUTH_AUTHZ_PORT" .Values.upstreams.auth.authzPort -}}
{{- /* The chat service's second port, its HTTP MCP endpoint (/v1/mcp), on CHAT_HOST. */ -}}
{{- $_ := set $values "CHAT_MCP_PORT" .Values.upstreams.chat.mcpPort -}}
{{- toJson $values -}}
{{- end -}}

{{/*
envoy/envoy.yaml with every placeholder filled. Rendering fails if the file names a placeholder this chart
does not fill (like string.Template.substitute does in devstack), so a new placeholder cannot slip through.
Values are escaped for the double-quoted YAML strings the placeholders sit in (\ and " only; a value
without them, such as an address, goes in unchanged), so a CORS regex like https://(www\.)?example\.com
stays valid YAML.
*/}}
{{- define "envoy.config" -}}
{{- $config := .Files.Get "files/envoy.yaml" -}}
{{- if not $config -}}
{{- fail "charts/envoy/files/envoy.yaml is missing: charts/envoy/files must link to the repository's envoy/ directory" -}}
{{- end -}}
{{- range $name, $value := include "envoy.placeholders" . | fromJson -}}
{{- $escaped := toString $value | replace "\\" "\\\\" | replace "\"" "\\\"" -}}
{{- $config = replace (printf "${%s}" $name) $escaped $config -}}
{{- end -}}
{{- with regexFind "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}" $config -}}
{{- fail (printf "envoy/envoy.yaml has a placeholder the envoy chart does not fill: %s" .) -}}
{{- end -}}
{{- $config -}}
{{- end -}}
