{{/*
A Secret value, base64-encoded, stable across upgrades: the value given in values if any, else the value
already stored in the cluster's Secret (lookup), else a new random one. `helm template` and `--dry-run` cannot
look up, so they show a fresh random value. Args: dict "ctx" . "secret" <Secret name> "key" <key> "value" <given>
"length" <random length>.
*/}}
{{- define "jan-common.secretValue" -}}
{{- if .value -}}
{{- .value | toString | b64enc -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret | default dict -}}
{{- $data := get $existing "data" | default dict -}}
{{- if hasKey $data .key -}}
{{- index $data .key -}}
{{- else -}}
{{- randAlphaNum (.length | default 48 | int) | b64enc -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Where DATABASE_URL comes from, first match wins:
  1. database.existingSecret (+ existingSecretKey)         this chart's own setting, a Secret you manage
  2. database.url                                          this chart's own setting, stored in the chart's Secret
  3. global.database.existingSecret / global.database.url  the umbrella's setting, the same way
  4. the Secret "<release>-postgresql", key DATABASE_URL   written by the bundled postgresql chart
existingSecret names go through `tpl`, so "{{ .Release.Name }}-db" works.
*/}}
{{- define "jan-common.databaseSource" -}}
{{- $local := .Values.database | default dict -}}
{{- $global := (.Values.global | default dict).database | default dict -}}
{{- if $local.existingSecret -}}
{{- dict "secret" (tpl $local.existingSecret .) "key" ($local.existingSecretKey | default "DATABASE_URL") | toJson -}}
{{- else if $local.url -}}
{{- dict "secret" (include "jan-common.fullname" .) "key" "DATABASE_URL" "url" $local.url | toJson -}}
{{- else if $global.existingSecret -}}
{{- dict "secret" (tpl $global.existingSecret .) "key" ($global.existingSecretKey | default "DATABASE_URL") | toJson -}}
{{- else if $global.url -}}
{{- dict "secret" (include "jan-common.fullname" .) "key" "DATABASE_URL" "url" $global.url | toJson -}}
{{- else -}}
{{- dict "secret" (printf "%s-postgresql" .Release.Name | trunc 63 | trimSuffix "-") "key" "DATABASE_URL" | toJson -}}
{{- end -}}
{{- end -}}

{{/* The DSN this chart must store in its own Secret, or "" when it references someone else's Secret. */}}
{{- define "jan-common.databaseUrl" -}}
{{- (include "jan-common.databaseSource" . | fromJson).url | default "" -}}
{{- end -}}

{{- define "jan-common.databaseEnv" -}}
{{- $source := include "jan-common.databaseSource" . | fromJson -}}
{{- $db := .Values.database | default dict -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $source.secret }}
      key: {{ $source.key }}
{{- with $db.poolMinSize }}
- name: JAN_DB_POOL_MIN
  value: {{ . | quote }}
{{- end }}
{{- with $db.poolMaxSize }}
- name: JAN_DB_POOL_MAX
  value: {{ . | quote }}
{{- end }}
{{- with $db.connectTimeoutSeconds }}
- name: JAN_DB_CONNECT_TIMEOUT_SECONDS
  value: {{ . | quote }}
{{- end }}
{{- end -}}
