{{- define "chat.env" -}}
{{- include "jan-common.databaseEnv" . }}
- name: JAN_INFERENCE_TARGET
  value: {{ .Values.inferenceTarget | default (printf "%s:50053" (include "jan-common.siblingHost" (list . "inference"))) | quote }}
- name: JAN_SEARCH_TARGET
  value: {{ .Values.searchTarget | default (printf "%s:50054" (include "jan-common.siblingHost" (list . "search"))) | quote }}
{{- end -}}
