{{/*
Prometheus metrics (services/common/metrics.py): each service answers GET /metrics over HTTP on a port of its own,
opened on JAN_<SERVICE>_METRICS_LISTEN (auth, chat, inference, search), never through Envoy. With metrics.enabled
the pod opens that port (named metrics), this chart's ClusterIP Service carries it (not the headless Service: a
ServiceMonitor selecting both still scrapes each pod once), the NetworkPolicy lets metrics.allowFrom reach it,
and metrics.serviceMonitor.enabled renders a ServiceMonitor (monitoring.coreos.com/v1) for a Prometheus operator.
*/}}

{{/* The metrics port as an extraPorts entry (a YAML list, empty when off). */}}
{{- define "jan-common.metricsPorts" -}}
{{- $metrics := .Values.metrics | default dict -}}
{{- if $metrics.enabled }}
- name: metrics
  port: {{ $metrics.port }}
  listenEnv: JAN_{{ upper .Chart.Name }}_METRICS_LISTEN
  appProtocol: http
{{- end }}
{{- end -}}

{{- define "jan-common.serviceMonitor" -}}
{{- $metrics := .Values.metrics | default dict -}}
{{- $monitor := $metrics.serviceMonitor | default dict -}}
{{- if and $metrics.enabled $monitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "jan-common.fullname" . }}
  namespace: {{ $monitor.namespace | default .Release.Namespace }}
  labels:
    {{- include "jan-common.labels" . | nindent 4 }}
    {{- with $monitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  jobLabel: app.kubernetes.io/name
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  selector:
    matchLabels:
      {{- include "jan-common.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: metrics
      path: /metrics
      scheme: http
      {{- with $monitor.interval }}
      interval: {{ . }}
      {{- end }}
      {{- with $monitor.scrapeTimeout }}
      scrapeTimeout: {{ . }}
      {{- end }}
{{- end -}}
{{- end -}}
