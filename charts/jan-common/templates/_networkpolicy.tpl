{{/*
A NetworkPolicy that lets only the pods calling a service reach its pods, on its ports, and nothing else in.
The services listen on every address in their pods (Envoy and chat must reach them), and their identity
headers are only trusted when signed (services/common/identity.py); the policy keeps everyone else in the
cluster off their ports in the first place. Args (dict):
  ctx      the chart's context (.)
  callers  the components allowed in by default, e.g. (list "envoy"): this release's pods of those charts
           (app.kubernetes.io/name=<component>, app.kubernetes.io/instance=<release>)
  ports    the container ports they may use (a list of numbers)
Values: networkPolicy.enabled (and global.networkPolicy.enabled, an off switch for the whole release);
networkPolicy.from replaces the default callers with your own NetworkPolicyPeer entries (charts installed under
other release names, or callers in other namespaces); networkPolicy.extraFrom adds peers to them.
Kubelet probes come from the node: network plugins let them through without a rule. With metrics.enabled, a
second rule lets metrics.allowFrom (NetworkPolicyPeer entries, templated; any pod in the cluster by default)
reach the metrics port, and only that port.
*/}}
{{- define "jan-common.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $policy := $ctx.Values.networkPolicy | default dict -}}
{{- $global := (($ctx.Values.global | default dict).networkPolicy | default dict) -}}
{{- $globalOn := or (not (hasKey $global "enabled")) $global.enabled -}}
{{- if and $policy.enabled $globalOn -}}
{{- $peers := $policy.from | default list -}}
{{- if not $peers -}}
{{- range .callers -}}
{{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" . "app.kubernetes.io/instance" $ctx.Release.Name))) -}}
{{- end -}}
{{- end -}}
{{- $peers = concat $peers ($policy.extraFrom | default list) -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "jan-common.metadata" (list $ctx (include "jan-common.fullname" $ctx)) | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "jan-common.selectorLabels" $ctx | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    - from:
        {{- tpl (toYaml $peers) $ctx | nindent 8 }}
      ports:
        {{- range .ports }}
        - protocol: TCP
          port: {{ . }}
        {{- end }}
    {{- $metrics := $ctx.Values.metrics | default dict }}
    {{- if $metrics.enabled }}
    - from:
        {{- tpl (toYaml ($metrics.allowFrom | default (list (dict "namespaceSelector" dict)))) $ctx | nindent 8 }}
      ports:
        - protocol: TCP
          port: {{ $metrics.port }}
    {{- end }}
{{- end -}}
{{- end -}}
