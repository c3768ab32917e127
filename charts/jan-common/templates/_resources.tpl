{{/* The Service clients use: one port named grpc (h2c). */}}
{{- define "jan-common.service" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "jan-common.metadata" (list . (include "jan-common.fullname" .) .Values.service.annotations) | nindent 2 }}
spec:
  type: {{ .Values.service.type }}
  selector:
    {{- include "jan-common.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .Values.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
{{- end -}}

{{/*
A headless Service on the same port: DNS answers with every ready pod, so Envoy (STRICT_DNS) and gRPC
clients spread calls over pods instead of pinning one HTTP/2 connection to one pod behind a ClusterIP.
*/}}
{{- define "jan-common.headlessService" -}}
apiVersion: v1
kind: Service
metadata:
  {{- include "jan-common.metadata" (list . (include "jan-common.headlessName" .)) | nindent 2 }}
spec:
  clusterIP: None
  publishNotReadyAddresses: false
  selector:
    {{- include "jan-common.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .Values.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
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
