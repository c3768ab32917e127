{{/*
Names and labels. Every Jan chart names its objects <release>-<chart> (or fullnameOverride), always with the
release prefix, so one chart can compute another's address with the same rule (jan-common.siblingHost).
*/}}

{{- define "jan-common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jan-common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "jan-common.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The headless Service's name: <fullname>-headless, within 63 characters. */}}
{{- define "jan-common.headlessName" -}}
{{- printf "%s-headless" (include "jan-common.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/*
The in-cluster DNS name of a sibling chart's headless Service in this release, e.g. (list . "inference") ->
jan-inference-headless.default.svc.cluster.local. Headless, so clients that resolve every pod (Envoy's
STRICT_DNS clusters, gRPC's round_robin) balance per request rather than per connection.
*/}}
{{- define "jan-common.siblingHost" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 -}}
{{- $fullname := printf "%s-%s" $ctx.Release.Name $component | trunc 63 | trimSuffix "-" -}}
{{- $domain := ($ctx.Values.global | default dict).clusterDomain | default "cluster.local" -}}
{{- printf "%s-headless.%s.svc.%s" ($fullname | trunc 54 | trimSuffix "-") $ctx.Release.Namespace $domain -}}
{{- end -}}

{{- define "jan-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "jan-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jan-common.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "jan-common.labels" -}}
helm.sh/chart: {{ include "jan-common.chart" . }}
{{ include "jan-common.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .Chart.Name }}
app.kubernetes.io/part-of: jan-server
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata: name, namespace, labels (and annotations when given as the second element). */}}
{{- define "jan-common.metadata" -}}
{{- $ctx := index . 0 -}}
name: {{ index . 1 }}
namespace: {{ $ctx.Release.Namespace }}
labels:
  {{- include "jan-common.labels" $ctx | nindent 2 }}
{{- if gt (len .) 2 }}
{{- with index . 2 }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "jan-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "jan-common.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}
