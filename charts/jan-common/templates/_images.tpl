{{/* registry/repository:tag, or @digest when one is given; the tag defaults to the chart's appVersion. */}}
{{- define "jan-common.image" -}}
{{- $image := .Values.image -}}
{{- $registry := $image.registry | default (.Values.global | default dict).imageRegistry -}}
{{- $repository := $image.repository -}}
{{- if $registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $registry) $image.repository -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (toString ($image.tag | default .Chart.AppVersion)) -}}
{{- end -}}
{{- end -}}

{{- define "jan-common.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global | default dict).imagePullSecrets | default list) (.Values.imagePullSecrets | default list) -}}
{{- with $secrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "map" . }}{{ .name }}{{ else }}{{ . }}{{ end }}
{{- end }}
{{- end }}
{{- end -}}
