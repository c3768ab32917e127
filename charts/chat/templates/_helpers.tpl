{{/*
The Secret and key holding JAN_IDENTITY_SECRET, the key auth signs each request's identity with (chat only
verifies): identity.existingSecret, else global.identity.existingSecret, else the auth chart's own Secret in
this release (<release>-auth), which generates it.
*/}}
{{- define "chat.identitySecret" -}}
{{- $identity := .Values.identity | default dict -}}
{{- $global := (.Values.global | default dict).identity | default dict -}}
{{- if $identity.existingSecret -}}
{{- dict "name" (tpl $identity.existingSecret .) "key" ($identity.existingSecretKey | default "JAN_IDENTITY_SECRET") | toJson -}}
{{- else if $global.existingSecret -}}
{{- dict "name" (tpl $global.existingSecret .) "key" ($global.existingSecretKey | default "JAN_IDENTITY_SECRET") | toJson -}}
{{- else -}}
{{- dict "name" (printf "%s-auth" .Release.Name | trunc 63 | trimSuffix "-") "key" "JAN_IDENTITY_SECRET" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "chat.env" -}}
{{- include "jan-common.databaseEnv" . }}
{{- $identity := include "chat.identitySecret" . | fromJson }}
- name: JAN_IDENTITY_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $identity.name }}
      key: {{ $identity.key }}
- name: JAN_INFERENCE_TARGET
  value: {{ .Values.inferenceTarget | default (printf "%s:50053" (include "jan-common.siblingHost" (list . "inference"))) | quote }}
- name: JAN_SEARCH_TARGET
  value: {{ .Values.searchTarget | default (printf "%s:50054" (include "jan-common.siblingHost" (list . "search"))) | quote }}
- name: JAN_AUTH_TARGET
  value: {{ .Values.authTarget | default (printf "%s:50051" (include "jan-common.siblingHost" (list . "auth"))) | quote }}
{{- with .Values.webSearchMaxSteps }}
- name: JAN_WEB_SEARCH_MAX_STEPS
  value: {{ . | quote }}
{{- end }}
{{- with .Values.webSearchMaxQueryChars }}
- name: JAN_WEB_SEARCH_MAX_QUERY_CHARS
  value: {{ . | quote }}
{{- end }}
{{- $limits := .Values.limits | default dict -}}
{{- $vars := dict
    "JAN_MAX_OUTPUT_TOKENS_PER_REQUEST" $limits.maxOutputTokensPerRequest
    "JAN_GUEST_MAX_OUTPUT_TOKENS" $limits.guestMaxOutputTokens
    "JAN_MAX_ITEM_BYTES" $limits.maxItemBytes
    "JAN_MAX_CONVERSATION_ITEMS" $limits.maxConversationItems
    "JAN_GUEST_MAX_CONVERSATION_ITEMS" $limits.guestMaxConversationItems -}}
{{- range $name, $value := $vars }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ $value | int64 | toString | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The ports besides grpc (jan-common.grpcPodTemplate's extraPorts, as YAML): the MCP endpoint (HTTP/1.1, Envoy's
/v1/mcp route), which the service opens on JAN_CHAT_MCP_LISTEN.
*/}}
{{- define "chat.extraPorts" -}}
- name: mcp
  port: {{ .Values.mcpPort }}
  listenEnv: JAN_CHAT_MCP_LISTEN
  appProtocol: http
{{- end -}}
