{{- define "search.env" -}}
{{- $serper := .Values.serper -}}
{{- if or $serper.apiKey $serper.existingSecret }}
- name: SERPER_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ if $serper.existingSecret }}{{ tpl $serper.existingSecret . }}{{ else }}{{ include "jan-common.fullname" . }}{{ end }}
      key: {{ if $serper.existingSecret }}{{ $serper.existingSecretKey }}{{ else }}SERPER_API_KEY{{ end }}
{{- end }}
{{- range $name, $value := dict "SERPER_SEARCH_URL" $serper.searchUrl "SERPER_SCRAPE_URL" $serper.scrapeUrl "JAN_SEARCH_TIMEOUT_SECONDS" .Values.timeoutSeconds "JAN_SEARCH_MAX_ATTEMPTS" .Values.maxAttempts "JAN_SEARCH_CACHE_TTL_SECONDS" .Values.cacheTtlSeconds "JAN_SEARCH_CACHE_MAX_ENTRIES" .Values.cacheMaxEntries }}
{{- if not (kindIs "invalid" $value) }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
