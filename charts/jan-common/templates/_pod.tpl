{{/*
The environment every Jan gRPC service reads (services/common/settings.py: ServerSettings), then the
chart's `env` map and `extraEnv` list. The listen variable (JAN_<SERVICE>_LISTEN) is set by the pod template.
*/}}
{{- define "jan-common.serverEnv" -}}
- name: JAN_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: JAN_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: JAN_SHUTDOWN_GRACE_SECONDS
  value: {{ .Values.shutdownGraceSeconds | quote }}
{{- with .Values.grpcMaxMessageBytes }}
- name: JAN_GRPC_MAX_MESSAGE_BYTES
  value: {{ . | int64 | quote }}
{{- end }}
{{- with .Values.otlpEndpoint | default (.Values.global | default dict).otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{- define "jan-common.extraEnv" -}}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Native gRPC probes (grpc.health.v1) on the service port, asking for the service's own name. */}}
{{- define "jan-common.grpcProbes" -}}
{{- $values := .ctx.Values -}}
{{- $service := .service -}}
{{- range $kind := list "startup" "liveness" "readiness" }}
{{ $kind }}Probe:
  grpc:
    port: {{ $values.port }}
    service: {{ $service }}
  {{- toYaml (index $values.probes $kind) | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "jan-common.scheduling" -}}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- tpl (toYaml .) $ | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "jan-common.preStop" -}}
{{- with .Values.preStopSleepSeconds }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ . }}
{{- end }}
{{- end -}}

{{/*
A pod template for one Jan gRPC service. Args (dict):
  ctx            the chart's context (.)
  grpcService    the name its health service reports, e.g. jan.v1.SignInService (the probes ask for it)
  listenEnv      the variable the service reads its listen address from, e.g. JAN_AUTH_LISTEN
  env            more env entries (a YAML list, as a string)             optional
  resources      the container's resources (YAML string)                 optional, default .Values.resources
  volumes, volumeMounts   more of each (YAML list strings)               optional
  annotations    more pod annotations (dict)                             optional
  extraPorts     more ports than grpc: a list of dicts with name, port   optional
                 and optionally listenEnv (a variable set to "[::]:<port>") and appProtocol (for the
                 Services: give jan-common.service and jan-common.headlessService the same list); the
                 metrics port (jan-common.metricsPorts) is added to it when metrics.enabled
The root filesystem is read-only; /tmp is an emptyDir.
*/}}
{{- define "jan-common.grpcPodTemplate" -}}
{{- $ctx := .ctx -}}
{{- $values := $ctx.Values -}}
{{- $annotations := merge (dict) ($values.podAnnotations | default dict) (.annotations | default dict) -}}
{{- $extraPorts := concat (.extraPorts | default list) (include "jan-common.metricsPorts" $ctx | fromYamlArray) -}}
metadata:
  labels:
    {{- include "jan-common.selectorLabels" $ctx | nindent 4 }}
    app.kubernetes.io/component: {{ $ctx.Chart.Name }}
    app.kubernetes.io/part-of: jan-server
    {{- with $values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "jan-common.serviceAccountName" $ctx }}
  automountServiceAccountToken: false
  {{- with include "jan-common.imagePullSecrets" $ctx | trim }}{{- . | nindent 2 }}{{- end }}
  securityContext:
    {{- toYaml $values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ add (ceil $values.shutdownGraceSeconds) ($values.preStopSleepSeconds | default 0) 5 }}
  {{- with include "jan-common.scheduling" $ctx | trim }}{{- . | nindent 2 }}{{- end }}
  containers:
    - name: {{ $ctx.Chart.Name }}
      image: {{ include "jan-common.image" $ctx }}
      imagePullPolicy: {{ $values.image.pullPolicy }}
      ports:
        - name: grpc
          containerPort: {{ $values.port }}
          protocol: TCP
        {{- range $extraPorts }}
        - name: {{ .name }}
          containerPort: {{ .port }}
          protocol: TCP
        {{- end }}
      env:
        - name: {{ .listenEnv }}
          value: "[::]:{{ $values.port }}"
        {{- range $port := $extraPorts }}
        {{- with $port.listenEnv }}
        - name: {{ . }}
          value: "[::]:{{ $port.port }}"
        {{- end }}
        {{- end }}
        {{- with include "jan-common.serverEnv" $ctx | trim }}{{- . | nindent 8 }}{{- end }}
        {{- with .env | trim }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with include "jan-common.extraEnv" $ctx | trim }}{{- . | nindent 8 }}{{- end }}
      {{- with $values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with include "jan-common.grpcProbes" (dict "ctx" $ctx "service" .grpcService) | trim }}{{- . | nindent 6 }}{{- end }}
      {{- with include "jan-common.preStop" $ctx | trim }}{{- . | nindent 6 }}{{- end }}
      resources:
        {{- .resources | default (toYaml $values.resources) | nindent 8 }}
      securityContext:
        {{- toYaml $values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- with .volumeMounts }}
        {{- . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $values.tmpSizeLimit | default "256Mi" }}
    {{- with .volumes }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* A Deployment around jan-common.grpcPodTemplate (same args); replicas are left to the HPA when it is on. */}}
{{- define "jan-common.grpcDeployment" -}}
{{- $ctx := .ctx -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- with include "jan-common.metadata" (list $ctx (include "jan-common.fullname" $ctx)) | trim }}{{- . | nindent 2 }}{{- end }}
spec:
  {{- if not $ctx.Values.autoscaling.enabled }}
  replicas: {{ $ctx.Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  selector:
    matchLabels:
      {{- include "jan-common.selectorLabels" $ctx | nindent 6 }}
  template:
    {{- with include "jan-common.grpcPodTemplate" . | trim }}{{- . | nindent 4 }}{{- end }}
{{- end -}}
