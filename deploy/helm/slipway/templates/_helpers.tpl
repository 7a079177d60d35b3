{{- define "slipway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "slipway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "slipway.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "slipway.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "slipway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slipway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "slipway.labels" -}}
{{ include "slipway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "slipway.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* SLIPWAY_CORES: .Values.cores, else the CPU request rounded up ("500m" -> 1, "2" -> 2). */}}
{{- define "slipway.cores" -}}
{{- if .Values.cores }}{{ .Values.cores }}
{{- else if and .Values.resources.requests .Values.resources.requests.cpu }}
{{- $cpu := toString .Values.resources.requests.cpu }}
{{- if hasSuffix "m" $cpu }}{{ max 1 (div (add (trimSuffix "m" $cpu | int) 999) 1000) }}
{{- else }}{{ max 1 (ceil (float64 $cpu) | int) }}{{ end }}
{{- end }}
{{- end }}

{{- define "slipway.env" -}}
{{- $cores := include "slipway.cores" . }}
{{- if $cores }}
- name: SLIPWAY_CORES
  value: {{ $cores | quote }}
{{- end }}
- name: SLIPWAY_DRAIN_DELAY_SECONDS
  value: {{ .Values.drainDelaySeconds | quote }}
- name: SLIPWAY_PROCESSES
  value: {{ .Values.server.processes | quote }}
- name: SLIPWAY_RESPONSE_CACHE
  value: {{ .Values.server.responseCache | quote }}
- name: SLIPWAY_LOG_LEVEL
  value: {{ .Values.server.logLevel | quote }}
{{- $keys := .Values.access.keysSecret | default (printf "%s-keys" (include "slipway.fullname" .)) }}
{{- range $pair := list (list "SLIPWAY_API_KEYS" "api-keys") (list "SLIPWAY_UI_KEYS" "ui-keys") (list "SLIPWAY_ADMIN_TOKEN" "admin-token") }}
- name: {{ index $pair 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $keys }}
      key: {{ index $pair 1 }}
      optional: true
{{- end }}
{{- with .Values.access.allowedHosts }}
- name: SLIPWAY_ALLOWED_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with .Values.access.corsOrigins }}
- name: SLIPWAY_CORS_ORIGINS
  value: {{ join "," . | quote }}
{{- end }}
{{- if .Values.access.tlsSecret }}
- name: SLIPWAY_TLS_CERT
  value: /etc/slipway/tls/tls.crt
- name: SLIPWAY_TLS_KEY
  value: /etc/slipway/tls/tls.key
{{- end }}
{{- with .Values.access.rateLimit }}
- name: SLIPWAY_RATE_LIMIT
  value: {{ . | quote }}
{{- end }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Probes on the OIP health routes; $port empty lets Knative use its serving port; the health port speaks plain HTTP even when the server serves TLS. */}}
{{- define "slipway.probes" -}}
{{- $port := .port }}
{{- range $probe := list (list "startupProbe" "/v2/health/ready" 5 60) (list "readinessProbe" "/v2/health/ready" 5 3) (list "livenessProbe" "/v2/health/live" 10 3) }}
{{ index $probe 0 }}:
  httpGet:
    path: {{ index $probe 1 }}
    {{- if $port }}
    port: {{ $port }}
    {{- end }}
  periodSeconds: {{ index $probe 2 }}
  failureThreshold: {{ index $probe 3 }}
  timeoutSeconds: 2
{{- end }}
{{- end }}

{{- define "slipway.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "slipway.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
