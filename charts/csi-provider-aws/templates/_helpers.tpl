{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "csi-provider-aws.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's objects. The release name is used alone when it
already contains the chart name (helm install csi-provider-aws ...).
*/}}
{{- define "csi-provider-aws.fullname" -}}
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

{{- define "csi-provider-aws.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: immutable on a DaemonSet, so only name and instance. */}}
{{- define "csi-provider-aws.selectorLabels" -}}
app.kubernetes.io/name: {{ include "csi-provider-aws.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object, and of the pods: the Kubernetes recommended labels
(app.kubernetes.io/name, instance, version, component, part-of,
managed-by), helm.sh/chart, then commonLabels. commonLabels may not set a
label of the chart's own: two values for one key would make the YAML
invalid, and name and instance select the pods.
*/}}
{{- define "csi-provider-aws.labels" -}}
helm.sh/chart: {{ include "csi-provider-aws.chart" . }}
{{ include "csi-provider-aws.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: provider
app.kubernetes.io/part-of: secrets-store-csi-driver
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{- range $key, $_ := . }}
{{- if or (hasPrefix "app.kubernetes.io/" $key) (eq $key "helm.sh/chart") }}
{{- fail (printf "commonLabels sets %s, a label the chart sets itself; remove it from commonLabels (nameOverride changes app.kubernetes.io/name)" $key) }}
{{- end }}
{{- end }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "csi-provider-aws.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "csi-provider-aws.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "csi-provider-aws.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Seconds in a Go duration ("20s", "1m30s", "500ms", "0"), as a float, so the
chart can check shutdownTimeout against terminationGracePeriodSeconds.
values.schema.json has already checked the format.
*/}}
{{- define "csi-provider-aws.durationSeconds" -}}
{{- $factors := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "µs" 0.000001 "ns" 0.000000001 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9.]+(ns|us|µs|ms|s|m|h)" (toString .) -1 }}
{{- $unit := regexFind "(ns|us|µs|ms|s|m|h)$" . }}
{{- $total = addf $total (mulf (trimSuffix $unit . | float64) (get $factors $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/* The kubelet's root directory on the nodes. */}}
{{- define "csi-provider-aws.kubeletDir" -}}
{{- .Values.kubeletDir }}
{{- end }}
