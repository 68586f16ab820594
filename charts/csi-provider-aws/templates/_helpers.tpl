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

{{/*
The ServiceAccount the daemon runs as. The reference chart's rbac.install
false creates neither the RBAC nor the ServiceAccount and runs as an
existing one named rbac.serviceAccountName or the full name; so does this
chart when given it.
*/}}
{{- define "csi-provider-aws.serviceAccountName" -}}
{{- $name := include "csi-provider-aws.alias" (list "serviceAccount.name" .Values.serviceAccount.name "" "rbac.serviceAccountName" (.Values.rbac).serviceAccountName) }}
{{- if or (eq (include "csi-provider-aws.serviceAccountCreate" .) "true") (eq (toString (.Values.rbac).install) "false") }}
{{- default (include "csi-provider-aws.fullname" .) $name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" $name }}
{{- end }}
{{- end }}

{{- define "csi-provider-aws.serviceAccountCreate" -}}
{{- and .Values.serviceAccount.create (ne (toString (.Values.rbac).install) "false") }}
{{- end }}

{{- define "csi-provider-aws.rbacCreate" -}}
{{- include "csi-provider-aws.alias" (list "rbac.create" .Values.rbac.create true "rbac.install" (.Values.rbac).install) }}
{{- end }}

{{/*
A value this chart and the reference provider's chart name differently:
(list ourName ourValue ourDefault theirName theirValue). Their value, when
given (not null, not empty), wins over our default; given with ours set to
something else, the chart refuses both rather than pick one.
*/}}
{{- define "csi-provider-aws.alias" -}}
{{- $ourName := index . 0 }}{{ $ours := index . 1 }}{{ $default := index . 2 }}
{{- $theirName := index . 3 }}{{ $theirs := index . 4 }}
{{- if or (kindIs "invalid" $theirs) (eq (toString $theirs) "") }}
{{- $ours }}
{{- else if or (eq (toString $ours) (toString $theirs)) (eq (toString $ours) (toString $default)) }}
{{- $theirs }}
{{- else }}
{{- fail (printf "%s (%v) and %s (%v) are both set: %s is the reference provider chart's name for %s; keep only %s" $ourName $ours $theirName $theirs $theirName $ourName $ourName) }}
{{- end }}
{{- end }}

{{/* --http-addr's port: httpPort, or the reference chart's port. */}}
{{- define "csi-provider-aws.httpPort" -}}
{{- include "csi-provider-aws.alias" (list "httpPort" .Values.httpPort 8989 "port" .Values.port) }}
{{- end }}

{{/* --qps and --burst: qps and burst, or the reference chart's k8sThrottlingParams. */}}
{{- define "csi-provider-aws.qps" -}}
{{- include "csi-provider-aws.alias" (list "qps" .Values.qps 50 "k8sThrottlingParams.qps" (.Values.k8sThrottlingParams).qps) }}
{{- end }}

{{- define "csi-provider-aws.burst" -}}
{{- include "csi-provider-aws.alias" (list "burst" .Values.burst 100 "k8sThrottlingParams.burst" (.Values.k8sThrottlingParams).burst) }}
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

{{/* The kubelet's root directory on the nodes: kubeletDir, or the reference chart's kubeletPath. */}}
{{- define "csi-provider-aws.kubeletDir" -}}
{{- include "csi-provider-aws.alias" (list "kubeletDir" .Values.kubeletDir "/var/lib/kubelet" "kubeletPath" .Values.kubeletPath) }}
{{- end }}

{{/*
The Windows DaemonSet's image: windows.image, each part defaulting to
image's (a multi-platform image with a windows/amd64 variant serves both).
*/}}
{{- define "csi-provider-aws.windowsImage" -}}
{{- $w := .Values.windows.image | default dict }}
{{- $repo := $w.repository | default .Values.image.repository }}
{{- if $w.digest }}
{{- printf "%s@%s" $repo $w.digest }}
{{- else if $w.tag }}
{{- printf "%s:%s" $repo $w.tag }}
{{- else if and (not $w.repository) .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}
