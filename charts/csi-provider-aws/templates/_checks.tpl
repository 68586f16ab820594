{{/*
Every check of the values that the schema cannot express, in one place.
daemonset.yaml includes it, so a refused value stops the whole render
with the message below.
*/}}
{{- define "csi-provider-aws.checks" -}}
{{- $shutdown := include "csi-provider-aws.durationSeconds" .Values.shutdownTimeout | float64 }}
{{- if lt (float64 .Values.terminationGracePeriodSeconds) (addf $shutdown 5) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed shutdownTimeout (%v) by at least 5 s, or the kubelet kills the daemon while Mounts are still finishing" .Values.terminationGracePeriodSeconds .Values.shutdownTimeout) }}
{{- end }}
{{- if and (eq .Values.dnsPolicy "None") (not (.Values.dnsConfig).nameservers) }}
{{- fail "dnsPolicy None needs dnsConfig.nameservers: the pod would have no DNS server to reach STS, Secrets Manager, SSM and the API server" }}
{{- end }}
{{- include "csi-provider-aws.checkDriver" . }}
{{- include "csi-provider-aws.checkReferenceValues" . }}
{{- end }}

{{/*
Values of the reference provider's chart (docs/migrating.md) that would not
mean the same here. Its names for our values (kubeletPath, port,
rbac.install, rbac.serviceAccountName, k8sThrottlingParams) are read by
csi-provider-aws.alias, which refuses them beside a different value of
ours; they are all read here first, so that happens even where a
template would not read them.
*/}}
{{- define "csi-provider-aws.checkReferenceValues" -}}
{{- range list "kubeletDir" "httpPort" "qps" "burst" "rbacCreate" "serviceAccountName" }}
{{- $_ := include (printf "csi-provider-aws.%s" .) $ }}
{{- end }}
{{- $repo := .Values.image.repository }}
{{- if or (eq $repo "secrets-store-csi-driver-provider-aws") (hasSuffix "/secrets-store-csi-driver-provider-aws" $repo) }}
{{- fail (printf "image.repository %s is the reference provider's image: it has none of this chart's flags (--http-addr, --cache-ttl...) and would exit at start. Remove image.repository and image.tag from your values to run csi-provider-aws (this chart's image and version), or point image.repository at your mirror of csi-provider-aws" $repo) }}
{{- end }}
{{- if .Values.useFipsEndpoint }}
{{- range .Values.env }}
{{- if eq .name "AWS_USE_FIPS_ENDPOINT" }}
{{- fail "useFipsEndpoint is true and env sets AWS_USE_FIPS_ENDPOINT too: keep only useFipsEndpoint" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The driver installed with this chart must find the provider: its provider
directories must hold providerVolume, it must pass pods' tokens, and when
the daemon writes the files it must mount pods under the same kubelet
directory.
*/}}
{{- define "csi-provider-aws.checkDriver" -}}
{{- $d := index .Values "secrets-store-csi-driver" | default dict }}
{{- if $d.install }}
{{- $linux := $d.linux | default dict }}
{{- $dirs := prepend ($linux.additionalProvidersDirs | default list) $linux.providersDir }}
{{- if not (has .Values.providerVolume $dirs) }}
{{- fail (printf "providerVolume %s is not a directory the driver installed with this chart looks in (secrets-store-csi-driver.linux.providersDir %v, additionalProvidersDirs %v): set secrets-store-csi-driver.linux.providersDir to %s too" .Values.providerVolume $linux.providersDir ($linux.additionalProvidersDirs | default list) .Values.providerVolume) }}
{{- end }}
{{- if and (not .Values.driverWritesSecrets) (ne (include "csi-provider-aws.kubeletDir" .) (toString $linux.kubeletRootDir)) }}
{{- fail (printf "kubeletDir %s differs from secrets-store-csi-driver.linux.kubeletRootDir %v: with driverWritesSecrets false the daemon writes into the mounts the driver makes under its kubelet directory; set both to the kubelet's root directory" (include "csi-provider-aws.kubeletDir" .) $linux.kubeletRootDir) }}
{{- end }}
{{- if not $d.tokenRequests }}
{{- fail "secrets-store-csi-driver.tokenRequests is empty: the driver would pass no service account token and every Mount would fail; keep sts.amazonaws.com (IRSA) and pods.eks.amazonaws.com (EKS Pod Identity)" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The Windows DaemonSet's values. The daemon writes no files on Windows
nodes (their pods do not mount the kubelet's directory), and a driver this
release installs must run on Windows nodes too and look for aws.sock where
the daemon creates it. The driver chart writes its Windows directories
inside double-quoted YAML, so its values carry doubled backslashes
(C:\\k\\...); they are compared undoubled.
*/}}
{{- define "csi-provider-aws.checkWindows" -}}
{{- if not .Values.driverWritesSecrets }}
{{- fail "windows.enabled needs driverWritesSecrets true: on Windows nodes the driver writes the files; the daemon writes them on Linux nodes only" }}
{{- end }}
{{- $d := index .Values "secrets-store-csi-driver" | default dict }}
{{- if $d.install }}
{{- $w := $d.windows | default dict }}
{{- if not $w.enabled }}
{{- fail "windows.enabled: the Secrets Store CSI Driver this release installs runs on Linux nodes only; set secrets-store-csi-driver.windows.enabled=true too" }}
{{- end }}
{{- $dirs := list }}
{{- range prepend ($w.additionalProvidersDirs | default list) $w.providersDir }}
{{- $dirs = append $dirs (replace "\\\\" "\\" (toString .)) }}
{{- end }}
{{- if not (has .Values.windows.providerVolume $dirs) }}
{{- fail (printf "windows.providerVolume %s is not a directory the driver's Windows pods look in (secrets-store-csi-driver.windows.providersDir and additionalProvidersDirs: %v): set both to the same directory" .Values.windows.providerVolume $dirs) }}
{{- end }}
{{- end }}
{{- end }}
