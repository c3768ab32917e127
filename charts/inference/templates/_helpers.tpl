{{- define "inference.chatTemplateFile" -}}/etc/jan/chat-template/chat_template.jinja{{- end -}}

{{- define "inference.env" -}}
{{- $engine := .Values.engine -}}
{{- $chatTemplate := $engine.chatTemplatePath -}}
{{- if $engine.chatTemplate }}{{ $chatTemplate = include "inference.chatTemplateFile" . }}{{ end -}}
{{- $vars := dict
    "JAN_MODEL" $engine.model
    "JAN_SERVED_MODEL_NAME" $engine.servedModelName
    "JAN_DTYPE" $engine.dtype
    "JAN_MAX_MODEL_LEN" $engine.maxModelLen
    "JAN_GPU_MEMORY_UTILIZATION" $engine.gpuMemoryUtilization
    "JAN_TOOL_CALL_PARSER" $engine.toolCallParser
    "JAN_REASONING_PARSER" $engine.reasoningParser
    "JAN_MAX_NUM_SEQS" $engine.maxNumSeqs
    "JAN_STREAM_INTERVAL_TOKENS" $engine.streamIntervalTokens
    "JAN_ENFORCE_EAGER" $engine.enforceEager
    "JAN_CHAT_TEMPLATE" $chatTemplate
    "HF_HOME" (printf "%s/huggingface" .Values.modelCache.mountPath)
    "VLLM_CACHE_ROOT" (printf "%s/vllm" .Values.modelCache.mountPath) -}}
{{- range $name, $value := $vars }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- $hf := .Values.huggingface -}}
{{- if or $hf.token $hf.existingSecret }}
- name: HF_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ if $hf.existingSecret }}{{ tpl $hf.existingSecret . }}{{ else }}{{ include "jan-common.fullname" . }}{{ end }}
      key: {{ if $hf.existingSecret }}{{ $hf.existingSecretKey }}{{ else }}HF_TOKEN{{ end }}
{{- end }}
{{- end -}}

{{/* The container's resources with the GPUs added to its limits. */}}
{{- define "inference.resources" -}}
{{- $resources := deepCopy .Values.resources -}}
{{- if .Values.gpu.enabled -}}
{{- $limits := get $resources "limits" | default dict -}}
{{- $_ := set $limits .Values.gpu.resourceName (.Values.gpu.count | int) -}}
{{- $_ := set $resources "limits" $limits -}}
{{- end -}}
{{- toYaml $resources -}}
{{- end -}}

{{- define "inference.volumeMounts" -}}
- name: model-cache
  mountPath: {{ .Values.modelCache.mountPath }}
- name: shm
  mountPath: /dev/shm
{{- if .Values.engine.chatTemplate }}
- name: chat-template
  mountPath: {{ dir (include "inference.chatTemplateFile" .) }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "inference.volumes" -}}
- name: shm
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.shm.sizeLimit }}
{{- if eq .Values.modelCache.type "existing" }}
- name: model-cache
  persistentVolumeClaim:
    claimName: {{ required "modelCache.existingClaim is required when modelCache.type is existing" .Values.modelCache.existingClaim }}
{{- else if eq .Values.modelCache.type "emptyDir" }}
- name: model-cache
  emptyDir:
    sizeLimit: {{ .Values.modelCache.emptyDirSizeLimit }}
{{- end }}
{{- if .Values.engine.chatTemplate }}
- name: chat-template
  configMap:
    name: {{ include "jan-common.fullname" . }}
{{- end }}
{{- end -}}

{{- define "inference.podAnnotations" -}}
{{- $annotations := dict -}}
{{- if .Values.engine.chatTemplate -}}
{{- $_ := set $annotations "checksum/chat-template" (.Values.engine.chatTemplate | sha256sum) -}}
{{- end -}}
{{- toJson $annotations -}}
{{- end -}}
