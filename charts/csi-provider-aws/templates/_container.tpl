{{/*
The daemon's container, from its arguments to its resources: the same in
the Linux and the Windows DaemonSet but for the provider directory.
(dict "root" $ "providerVolume" dir)
*/}}
{{- define "csi-provider-aws.container" -}}
{{- $root := .root -}}
args:
  - --provider-volume={{ .providerVolume }}
  - --driver-writes-secrets={{ $root.Values.driverWritesSecrets }}
  - --http-addr=:{{ include "csi-provider-aws.httpPort" $root }}
  - --cache-ttl={{ $root.Values.cacheTTL }}
  - --cache-stale-max={{ $root.Values.cacheStaleMax }}
  - --cache-max-bytes={{ $root.Values.cacheMaxBytes | int64 }}
  - --qps={{ include "csi-provider-aws.qps" $root }}
  - --burst={{ include "csi-provider-aws.burst" $root | int64 }}
  - --mount-timeout={{ $root.Values.mountTimeout }}
  - --shutdown-timeout={{ $root.Values.shutdownTimeout }}
  - --aws-max-attempts={{ $root.Values.awsMaxAttempts | int64 }}
  {{- if $root.Values.tokenRequestFallback }}
  - --token-request-fallback=true
  {{- end }}
  - -v={{ $root.Values.logVerbosity | int64 }}
  {{- with $root.Values.podIdentityHttpTimeout }}
  - --pod-identity-http-timeout={{ . }}
  {{- end }}
  {{- range $root.Values.extraArgs }}
  - {{ . | quote }}
  {{- end }}
env:
  # This node, for its region label. Without it the daemon reads
  # every mounting pod to learn the node: an API call per Mount.
  - name: NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
  {{- with $root.Values.awsRegion }}
  - name: AWS_REGION
    value: {{ . | quote }}
  {{- end }}
  {{- if $root.Values.useFipsEndpoint }}
  # Every AWS client of the daemon, STS included, uses FIPS endpoints.
  - name: AWS_USE_FIPS_ENDPOINT
    value: "true"
  {{- end }}
  {{- with $root.Values.env }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
ports:
  - name: http
    containerPort: {{ include "csi-provider-aws.httpPort" $root }}
    protocol: TCP
startupProbe:
  httpGet:
    path: /healthz
    port: http
  {{- with $root.Values.startupProbe }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  {{- with $root.Values.livenessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  {{- with $root.Values.readinessProbe }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
resources:
  {{- toYaml $root.Values.resources | nindent 2 }}
{{- end }}
