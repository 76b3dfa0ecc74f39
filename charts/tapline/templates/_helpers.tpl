{{/*
Shared template helpers for the Tapline chart: names, labels, the image reference and the
values checks that must hold before anything is rendered.
*/}}

{{/*
Chart name, overridable by nameOverride. Truncated to 52 characters (not 63) because the
StatefulSet controller appends "-<hash>" (11 chars) to it in the controller-revision-hash label,
which must stay within 63 characters.
*/}}
{{- define "tapline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: <release>-<chart>, or just <release> when it already contains the chart
name, or fullnameOverride. Same 52-character limit as tapline.name.
*/}}
{{- define "tapline.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the headless Service that governs the StatefulSet (stable per-pod DNS names).
*/}}
{{- define "tapline.headlessServiceName" -}}
{{- printf "%s-headless" (include "tapline.fullname" .) }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "tapline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: the immutable subset used by the StatefulSet selector, Services and PDB.
Never add labels here that can change between releases (a StatefulSet selector cannot change).
*/}}
{{- define "tapline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tapline.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: authorizer
{{- end }}

{{/*
Selector labels of the streamer and reports Deployments. Called with
(dict "root" $ "component" "streamer"): same name/instance as the authorizer but their own
app.kubernetes.io/component, so the authorizer's Services, PDB and anti-affinity (which select
component=authorizer) never match these pods, and vice versa.
*/}}
{{- define "tapline.componentSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tapline.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Common labels for the streamer and reports resources; same arguments as
tapline.componentSelectorLabels.
*/}}
{{- define "tapline.componentLabels" -}}
helm.sh/chart: {{ include "tapline.chart" .root }}
{{ include "tapline.componentSelectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tapline
{{- end }}

{{/*
Common labels for every resource.
*/}}
{{- define "tapline.labels" -}}
helm.sh/chart: {{ include "tapline.chart" . }}
{{ include "tapline.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tapline
{{- end }}

{{/*
Image reference: repository@digest when a digest is pinned, else repository:tag (tag defaults to
the chart's appVersion).
*/}}
{{- define "tapline.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}
{{- end }}

{{/*
Checks on values that Kubernetes itself would not catch. Renders nothing; fails the install with
a message instead of deploying a configuration that loses in-flight payments.
  - terminationGracePeriodSeconds must exceed preStopSleepSeconds + shutdownGraceMs, or the
    kubelet SIGKILLs the node while it is still draining and flushing commits.
  - Redis must be configured one way or the other.
  - The doors are secure by default with no off switch: the CA bundles, the node certificates'
    source and the token issuers must be given (the authorizer would refuse to start without them).
  - The streamer, reports service and migration Job need ClickHouse, and the same grace rule as
    the authorizer.
*/}}
{{- define "tapline.validate" -}}
{{- $graceMs := add (int64 .Values.config.shutdownGraceMs) (mul (int64 .Values.preStopSleepSeconds) 1000) }}
{{- $terminationMs := mul (int64 .Values.terminationGracePeriodSeconds) 1000 }}
{{- if le $terminationMs $graceMs }}
{{- fail (printf "terminationGracePeriodSeconds (%d s) must be greater than preStopSleepSeconds + config.shutdownGraceMs (%d ms), or pods are killed before they finish draining" (int64 .Values.terminationGracePeriodSeconds) $graceMs) }}
{{- end }}
{{- if and (not .Values.redis.url) (not .Values.redis.existingSecret) }}
{{- fail "set redis.url (redis://host:port) or redis.existingSecret: Redis is external to this chart and has no default" }}
{{- end }}
{{- if and (or .Values.streamer.enabled .Values.reports.enabled .Values.migrations.enabled) (not .Values.clickhouse.url) (not .Values.clickhouse.existingSecret) }}
{{- fail "streamer.enabled / reports.enabled / migrations.enabled need clickhouse.url (http://host:8123) or clickhouse.existingSecret: ClickHouse is external to this chart and has no default" }}
{{- end }}
{{- if .Values.streamer.enabled }}
{{- if le (mul (int64 .Values.streamer.terminationGracePeriodSeconds) 1000) (int64 .Values.streamer.shutdownGraceMs) }}
{{- fail (printf "streamer.terminationGracePeriodSeconds (%d s) must be greater than streamer.shutdownGraceMs (%d ms), or a streamer is killed mid-batch" (int64 .Values.streamer.terminationGracePeriodSeconds) (int64 .Values.streamer.shutdownGraceMs)) }}
{{- end }}
{{- end }}
{{- if eq .Values.psp.provider "mollie" }}
{{- if or (not .Values.secrets.mollie.existingSecret) (not .Values.psp.webhookUrl) (not .Values.psp.redirectUrl) }}
{{- fail "psp.provider=mollie needs secrets.mollie.existingSecret (the API key), psp.webhookUrl and psp.redirectUrl" }}
{{- end }}
{{- end }}
{{- if .Values.reports.enabled }}
{{- if le (mul (int64 .Values.reports.terminationGracePeriodSeconds) 1000) (int64 .Values.reports.shutdownGraceMs) }}
{{- fail (printf "reports.terminationGracePeriodSeconds (%d s) must be greater than reports.shutdownGraceMs (%d ms), or in-flight reports are cut off" (int64 .Values.reports.terminationGracePeriodSeconds) (int64 .Values.reports.shutdownGraceMs)) }}
{{- end }}
{{- end }}
{{- if not .Values.tls.clientCa.secretName }}
{{- fail "set tls.clientCa.secretName: a Secret with the CA bundle of terminal and gateway certificates (the terminal door takes no one else)" }}
{{- end }}
{{- if not .Values.tls.clusterCa.secretName }}
{{- fail "set tls.clusterCa.secretName: a Secret with the CA bundle of node certificates (the internal door and the reports service verify nodes with it)" }}
{{- end }}
{{- if and (eq .Values.tls.node.source "csi") (not .Values.tls.node.issuer.name) }}
{{- fail "tls.node.source=csi needs tls.node.issuer.name: the cert-manager issuer that signs node certificates (csi-driver asks it for one per pod)" }}
{{- end }}
{{- if and (eq .Values.tls.node.source "secret") (not .Values.tls.node.secretName) }}
{{- fail "tls.node.source=secret needs tls.node.secretName: a Secret with <pod name>.crt and <pod name>.key for every pod" }}
{{- end }}
{{- if not .Values.oidc.issuers.existingSecret }}
{{- fail "set oidc.issuers.existingSecret: a Secret with the trusted token issuers (TAPLINE_OIDC_ISSUERS); the operator door and the reports service take no caller without a token" }}
{{- end }}
{{- if and .Values.reports.enabled (not .Values.reports.tls.secretName) }}
{{- fail "reports.enabled needs reports.tls.secretName: the reports service serves HTTPS only" }}
{{- end }}
{{- if and .Values.reports.enabled (not .Values.reports.authorizerToken.existingSecret) }}
{{- fail "reports.enabled needs reports.authorizerToken.existingSecret: the reports service's own token (role reports) towards the operator door" }}
{{- end }}
{{- end }}

{{/*
The TAPLINE_REDIS_URL env entry: from the Secret when one is named (the URL holds a password),
else the plain URL; then the deployment shape (redis.mode, its Sentinels or Cluster nodes, the
replicas a write waits for). Every workload reads Redis the same way.
*/}}
{{- define "tapline.redisUrlEnv" -}}
- name: TAPLINE_REDIS_URL
{{- if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else }}
  value: {{ required "redis.url is required (Redis is external to this chart)" .Values.redis.url | quote }}
{{- end }}
{{- if ne .Values.redis.mode "single" }}
- name: TAPLINE_REDIS_MODE
  value: {{ .Values.redis.mode | quote }}
{{- end }}
{{- if eq .Values.redis.mode "sentinel" }}
- name: TAPLINE_REDIS_SENTINELS
  value: {{ required "redis.sentinels is required with redis.mode sentinel" (join "," .Values.redis.sentinels | default "") | quote }}
- name: TAPLINE_REDIS_SENTINEL_NAME
  value: {{ .Values.redis.sentinelName | quote }}
{{- end }}
{{- if eq .Values.redis.mode "cluster" }}
- name: TAPLINE_REDIS_CLUSTER_NODES
  value: {{ required "redis.clusterNodes is required with redis.mode cluster" (join "," .Values.redis.clusterNodes | default "") | quote }}
{{- end }}
{{- if not (kindIs "invalid" .Values.redis.waitReplicas) }}
- name: TAPLINE_REDIS_WAIT_REPLICAS
  value: {{ .Values.redis.waitReplicas | int | toString | quote }}
{{- end }}
{{- end }}

{{/*
The ClickHouse env entries of the streamer, reports service and migration Job: the URL from the
Secret when one is named (it carries the credentials), else the plain URL; and the database.
*/}}
{{- define "tapline.clickhouseEnv" -}}
- name: TAPLINE_CLICKHOUSE_URL
{{- if .Values.clickhouse.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.clickhouse.existingSecret }}
      key: {{ .Values.clickhouse.existingSecretKey }}
{{- else }}
  value: {{ required "clickhouse.url or clickhouse.existingSecret is required" .Values.clickhouse.url | quote }}
{{- end }}
- name: TAPLINE_CLICKHOUSE_DATABASE
  value: {{ .Values.clickhouse.database | quote }}
{{- with .Values.clickhouse.cluster }}
- name: TAPLINE_CLICKHOUSE_CLUSTER
  value: {{ . | quote }}
- name: TAPLINE_CLICKHOUSE_INSERT_QUORUM
  value: {{ $.Values.clickhouse.insertQuorum | int | toString | quote }}
{{- end }}
{{- end }}

{{/*
The authorizer's secrets, each from its existing Secret by secretKeyRef; absent when not named
(the authorizer then answers the features that need them FAILED_PRECONDITION).
*/}}
{{- define "tapline.secretEnv" -}}
{{- with .Values.secrets.pin.existingSecret }}
- name: TAPLINE_PIN_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.pin.key }}
{{- end }}
{{- with .Values.secrets.mollie.existingSecret }}
- name: TAPLINE_MOLLIE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.mollie.key }}
{{- end }}
{{- with .Values.secrets.cardAuth.existingSecret }}
- name: TAPLINE_CARD_AUTH_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.cardAuth.key }}
{{- end }}
{{- with .Values.secrets.token.existingSecret }}
- name: TAPLINE_TOKEN_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.secrets.token.key }}
{{- end }}
{{- end }}

{{/*
Where the reports service reaches the authorizer's operator door: reports.authorizerGrpcAddress,
or this release's client Service.
*/}}
{{- define "tapline.authorizerGrpcAddress" -}}
{{- .Values.reports.authorizerGrpcAddress | default (printf "%s.%s.svc:%d" (include "tapline.fullname" .) .Release.Namespace (int64 .Values.service.operatorPort)) }}
{{- end }}

{{/*
The trust settings the authorizer and the reports service share: the trusted token issuers from
their Secret by secretKeyRef (never in a ConfigMap: they say whose tokens move money), the
audience, the roles claim, and how often certificate, key and token files are reread.
*/}}
{{- define "tapline.authEnv" -}}
- name: TAPLINE_OIDC_ISSUERS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.oidc.issuers.existingSecret }}
      key: {{ .Values.oidc.issuers.key }}
- name: TAPLINE_OIDC_AUDIENCE
  value: {{ .Values.oidc.audience | quote }}
- name: TAPLINE_OIDC_ROLES_CLAIM
  value: {{ .Values.oidc.rolesClaim | quote }}
{{- with .Values.tls.reloadMs }}
- name: TAPLINE_TLS_RELOAD_MS
  value: {{ int64 . | quote }}
{{- end }}
{{- end }}

{{/*
A Secret mounted as a whole directory (never subPath, so a rotated Secret reaches the pod),
readable by the pod's fsGroup only (0440). Called with (dict "name" <volume> "secret" <Secret>).
*/}}
{{- define "tapline.secretVolume" -}}
- name: {{ .name }}
  secret:
    secretName: {{ .secret }}
    defaultMode: 288
{{- end }}

{{/*
DNS names of every node certificate (csi-driver fills in ${POD_NAME} and ${POD_NAMESPACE}): the
pod's own name under the headless Service (what peers dial), the client Service's names (what
terminals, operators and the reports service dial), and tls.node.extraDnsNames.
*/}}
{{- define "tapline.nodeDnsNames" -}}
{{- $fullname := include "tapline.fullname" . }}
{{- $names := list (printf "${POD_NAME}.%s.${POD_NAMESPACE}.svc" (include "tapline.headlessServiceName" .)) (printf "%s.${POD_NAMESPACE}.svc" $fullname) (printf "%s.${POD_NAMESPACE}.svc.cluster.local" $fullname) }}
{{- join "," (concat $names .Values.tls.node.extraDnsNames) }}
{{- end }}
