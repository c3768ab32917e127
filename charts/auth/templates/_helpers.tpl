{{/* The Secret holding the signing keys: secrets.existingSecret, or the chart's own. */}}
{{- define "auth.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{- tpl .Values.secrets.existingSecret . -}}
{{- else -}}
{{- include "jan-common.fullname" . -}}
{{- end -}}
{{- end -}}

{{/*
The Secret and key holding JAN_IDENTITY_SECRET (the key this service signs each request's identity with; chat
checks it): global.identity.existingSecret, else the Secret holding the signing keys (auth.secretName).
*/}}
{{- define "auth.identitySecret" -}}
{{- $global := (.Values.global | default dict).identity | default dict -}}
{{- if $global.existingSecret -}}
{{- dict "name" (tpl $global.existingSecret .) "key" ($global.existingSecretKey | default "JAN_IDENTITY_SECRET") | toJson -}}
{{- else -}}
{{- dict "name" (include "auth.secretName" .) "key" "JAN_IDENTITY_SECRET" | toJson -}}
{{- end -}}
{{- end -}}

{{- define "auth.env" -}}
{{- include "jan-common.databaseEnv" . }}
- name: JAN_INFERENCE_TARGET
  value: {{ .Values.inferenceTarget | default (printf "%s:50053" (include "jan-common.siblingHost" (list . "inference"))) | quote }}
- name: JAN_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: JAN_JWT_SECRET
- name: JAN_APIKEY_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: JAN_APIKEY_SECRET
{{- $identity := include "auth.identitySecret" . | fromJson }}
- name: JAN_IDENTITY_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ $identity.name }}
      key: {{ $identity.key }}
- name: JAN_BOOTSTRAP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: JAN_BOOTSTRAP_TOKEN
      optional: true
{{- $limits := .Values.limits | default dict -}}
{{- range $name, $value := dict "JAN_RATE_LIMIT_REQUESTS_PER_MINUTE" $limits.requestsPerMinute "JAN_GUEST_REQUESTS_PER_MINUTE" $limits.guestRequestsPerMinute "JAN_GUEST_ACCOUNTS_PER_IP_PER_HOUR" $limits.guestAccountsPerIpPerHour "JAN_SIGN_INS_PER_IP_PER_MINUTE" $limits.signInsPerIpPerMinute "JAN_INTERNAL_SERVICES_ACCESS" .Values.internalServicesAccess }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- with .Values.adminEmails }}
- name: JAN_ADMIN_EMAILS
  value: {{ join "," . | quote }}
{{- end }}
{{- if .Values.google.clientId }}
- name: OAUTH2_GOOGLE_CLIENT_ID
  value: {{ .Values.google.clientId | quote }}
- name: OAUTH2_GOOGLE_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "auth.secretName" . }}
      key: OAUTH2_GOOGLE_CLIENT_SECRET
      optional: {{ not .Values.google.clientSecret }}
{{- with .Values.google.redirectUrl }}
- name: OAUTH2_GOOGLE_REDIRECT_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
The ports besides grpc (jan-common.grpcPodTemplate's extraPorts, as YAML): Envoy's ext_authz asks the HTTP/1.1
endpoint, which the service opens on JAN_AUTH_AUTHZ_LISTEN.
*/}}
{{- define "auth.extraPorts" -}}
- name: authz
  port: {{ .Values.authzPort }}
  listenEnv: JAN_AUTH_AUTHZ_LISTEN
  appProtocol: http
{{- end -}}
