{{/*
The Service clients use: one port named grpc (h2c), then the pod template's extraPorts. Args (dict):
  ctx            the chart's context (.)
  extraPorts     the list given to jan-common.grpcPodTemplate            optional
*/}}
{{- define "jan-common.service" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "jan-common.metadata" (list $ctx (include "jan-common.fullname" $ctx) $ctx.Values.service.annotations) | nindent 2 }}
spec:
  type: {{ $ctx.Values.service.type }}
  selector:
    {{- include "jan-common.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- $metrics := include "jan-common.metricsPorts" $ctx | fromYamlArray }}
    {{- include "jan-common.servicePorts" (dict "ctx" $ctx "extraPorts" (concat (.extraPorts | default list) $metrics)) | nindent 4 }}
{{- end -}}

{{/*
A headless Service on the same ports (same args): DNS answers with every ready pod, so Envoy (STRICT_DNS)
and gRPC clients spread calls over pods instead of pinning one HTTP/2 connection to one pod behind a ClusterIP.
*/}}
{{- define "jan-common.headlessService" -}}
{{- $ctx := .ctx -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "jan-common.metadata" (list $ctx (include "jan-common.headlessName" $ctx)) | nindent 2 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "jan-common.selectorLabels" $ctx | nindent 4 }}
  ports:
    {{- include "jan-common.servicePorts" . | nindent 4 }}
{{- end -}}

{{- define "jan-common.servicePorts" -}}
- name: grpc
  port: {{ .ctx.Values.port }}
  targetPort: grpc
  protocol: TCP
  appProtocol: kubernetes.io/h2c
{{- range .extraPorts }}
- name: {{ .name }}
  port: {{ .port }}
  targetPort: {{ .name }}
  protocol: TCP
  {{- with .appProtocol }}
  appProtocol: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "jan-common.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  {{- include "jan-common.metadata" (list . (include "jan-common.serviceAccountName" .) .Values.serviceAccount.annotations) | nindent 2 }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{/* maxUnavailable (default 1) unless minAvailable is given. */}}
{{- define "jan-common.podDisruptionBudget" -}}
{{- $pdb := .Values.podDisruptionBudget -}}
{{- if $pdb.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "jan-common.metadata" (list . (include "jan-common.fullname" .)) | nindent 2 }}
spec:
  {{- if hasKey $pdb "minAvailable" }}
  minAvailable: {{ $pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $pdb.maxUnavailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "jan-common.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* CPU (and optionally memory) utilisation autoscaling of the chart's Deployment. */}}
{{- define "jan-common.horizontalPodAutoscaler" -}}
{{- $hpa := .Values.autoscaling -}}
{{- if $hpa.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  {{- include "jan-common.metadata" (list . (include "jan-common.fullname" .)) | nindent 2 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "jan-common.fullname" . }}
  minReplicas: {{ $hpa.minReplicas }}
  maxReplicas: {{ $hpa.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $hpa.targetCPUUtilizationPercentage }}
    {{- with $hpa.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
  {{- with $hpa.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}
