{{/*
Names. Object names are capped at 63 characters (DNS label rules for Services).
*/}}
{{- define "p2p-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "p2p-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "p2p-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: the stable subset of the labels below (selectors are immutable).
*/}}
{{- define "p2p-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "p2p-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The standard app.kubernetes.io labels: every object the chart renders carries these.
*/}}
{{- define "p2p-operator.labels" -}}
helm.sh/chart: {{ include "p2p-operator.chart" . }}
{{ include "p2p-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: p2p-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "p2p-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "p2p-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "p2p-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The leader-election Lease: one per release, so two releases in a namespace don't share it.
*/}}
{{- define "p2p-operator.leaseName" -}}{{ include "p2p-operator.fullname" . }}{{- end }}

{{/*
Where the NATS credentials Secret's key is mounted (and what --nats-creds names).
*/}}
{{- define "p2p-operator.natsCredsDir" -}}/etc/p2p-operator/nats{{- end }}
{{- define "p2p-operator.natsCredsFile" -}}{{ include "p2p-operator.natsCredsDir" . }}/nats.creds{{- end }}

{{/*
The rules the operator needs on namespaced resources, wherever it watches them. The same
list goes into the ClusterRole (all namespaces) or into each namespace's Role.
*/}}
{{- define "p2p-operator.namespacedRules" -}}
- apiGroups: ["messaging.p2p.dev"]
  resources: ["pointtopointchannels"]
  verbs: ["get", "list", "watch", "update", "patch"]
- apiGroups: ["messaging.p2p.dev"]
  resources: ["pointtopointchannels/status"]
  verbs: ["get", "update", "patch"]
- apiGroups: ["messaging.p2p.dev"]
  resources: ["pointtopointchannels/finalizers"]
  verbs: ["update"]
# Consumer Deployments the operator owns (workload.template); a user's scaleTargetRef
# Deployment is only read and scaled through deployments/scale.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["deployments/scale"]
  verbs: ["get", "update", "patch"]
{{- range .Values.rbac.extraScaleTargets }}
# scaleTargetRef kinds beyond Deployments (rbac.extraScaleTargets): scaled, never changed.
- apiGroups: [{{ .apiGroup | quote }}]
  resources: [{{ printf "%s/scale" .resource | quote }}]
  verbs: ["get", "update", "patch"]
{{- end }}
# Read-only: an HPA already scaling a target is a ScaleTargetConflict.
- apiGroups: ["autoscaling"]
  resources: ["horizontalpodautoscalers"]
  verbs: ["get", "list", "watch"]
# spec.connection.secretRef: NATS credentials in the channel's own namespace, read by name
# (get only: the operator neither lists nor watches Secrets).
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}
