{{- define "chat.env" -}}
{{- include "jan-common.databaseEnv" . }}
- name: JAN_INFERENCE_TARGET
  value: {{ .Values.inferenceTarget | default (printf "%s:50053" (include "jan-common.siblingHost" (list . "inference"))) | quote }}
{{- end -}}
