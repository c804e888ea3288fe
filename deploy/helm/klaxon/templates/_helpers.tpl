{{/* Object names: `klaxon` when the release name contains it, else `<release>-klaxon`. */}}
{{- define "klaxon.name" -}}
{{- default "klaxon" .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "klaxon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "klaxon.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "klaxon.labels" -}}
app.kubernetes.io/name: {{ include "klaxon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: klaxon
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component (ingest, detect, serve). Call with (dict "root" $ "component" "ingest"). */}}
{{- define "klaxon.selector" -}}
app.kubernetes.io/name: {{ include "klaxon.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every Klaxon pod of this release. */}}
{{- define "klaxon.podSelector" -}}
app.kubernetes.io/name: {{ include "klaxon.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "klaxon.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The environment of every Klaxon container: the ConfigMap, plus the paths of the mounted Secrets. */}}
{{- define "klaxon.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "klaxon.fullname" . }}-config
{{- end -}}

{{/* Pod-level settings shared by every workload. Call with (dict "root" $ "c" .Values.ingest). */}}
{{- define "klaxon.podSpecCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on a named port; `scheme` HTTPS when ingest has its TLS Secret. */}}
{{- define "klaxon.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
    {{- if .https }}
    scheme: HTTPS
    {{- end }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
    {{- if .https }}
    scheme: HTTPS
    {{- end }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
    {{- if .https }}
    scheme: HTTPS
    {{- end }}
  periodSeconds: 2
  failureThreshold: 30
{{- end -}}

{{/* Mounts and volumes of a process that receives events (ingest, serve): credentials, spool, /tmp. */}}
{{- define "klaxon.receiverMounts" -}}
{{- if .Values.secrets.tokens }}
- name: tokens
  mountPath: /etc/klaxon/tokens
  readOnly: true
{{- end }}
{{- if .Values.secrets.tls }}
- name: tls
  mountPath: /etc/klaxon/tls
  readOnly: true
- name: tls-clients
  mountPath: /etc/klaxon/clients
  readOnly: true
{{- end }}
- name: spool
  mountPath: /var/lib/klaxon
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "klaxon.receiverVolumes" -}}
{{- if .root.Values.secrets.tokens }}
- name: tokens
  secret:
    secretName: {{ .root.Values.secrets.tokens }}
    defaultMode: 0440
{{- end }}
{{- if .root.Values.secrets.tls }}
- name: tls
  secret:
    secretName: {{ .root.Values.secrets.tls }}
    defaultMode: 0440
- name: tls-clients
  configMap:
    name: {{ include "klaxon.fullname" .root }}-tls-clients
{{- end }}
# The spool survives container restarts (a crash or an OOM kill while Kafka is down).
- name: spool
  emptyDir:
    sizeLimit: {{ .spool.sizeLimit }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end -}}

{{- define "klaxon.credentialsMount" -}}
- name: credentials
  mountPath: /etc/klaxon/credentials
  readOnly: true
{{- end -}}

{{/* Elasticsearch credentials as a Klaxon config file, never an environment variable (optional Secret). */}}
{{- define "klaxon.credentialsVolume" -}}
- name: credentials
  secret:
    secretName: {{ .Values.secrets.detectCredentials }}
    optional: true
    defaultMode: 0440
{{- end -}}
