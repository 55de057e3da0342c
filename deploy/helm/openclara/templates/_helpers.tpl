{{/*
Names, labels and the three services' configuration files.

Fixed paths inside every pod: the component's own volume at /var/lib/openclara (CLARA_HOME, also the
image user's home), the shared ReadWriteMany volume at /var/lib/openclara-shared (the platform, and the
adapter with dicomAdapter.handOff), the rendered configuration file under /config, the stack's
credentials file under /var/run/secrets/openclara (CLARA_CREDENTIALS), and an emptyDir at /tmp (the root
file system is read-only).
*/}}

{{- define "openclara.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "openclara.fullname" -}}
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

{{- define "openclara.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "platform"). */}}
{{- define "openclara.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openclara.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Every label of one component: (dict "root" $ "component" "platform"). */}}
{{- define "openclara.labels" -}}
helm.sh/chart: {{ include "openclara.chart" .root }}
{{ include "openclara.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: openclara
{{- end }}

{{- define "openclara.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "openclara.dataPath" -}}/var/lib/openclara{{- end }}
{{- define "openclara.sharedPath" -}}/var/lib/openclara-shared{{- end }}

{{/* Service names: the services find each other by these, operators find the platform by them. */}}
{{- define "openclara.platformHost" -}}{{ include "openclara.fullname" . }}-platform{{- end }}
{{- define "openclara.resultsHost" -}}{{ include "openclara.fullname" . }}-results{{- end }}
{{- define "openclara.platformEndpoint" -}}
{{ include "openclara.platformHost" . }}:{{ .Values.platform.service.port }}
{{- end }}
{{- define "openclara.resultsUrl" -}}
http://{{ include "openclara.resultsHost" . }}:{{ .Values.results.service.port }}
{{- end }}

{{- define "openclara.serviceAccountName" -}}
{{- if .Values.platform.serviceAccount.create }}
{{- default (printf "%s-platform" (include "openclara.fullname" .)) .Values.platform.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.platform.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The stack's API tokens (docs/security.md): one credentials file (tokens admin, services, operators) that
every service reads, from a Secret mounted read-only into the three pods; CLARA_CREDENTIALS names it.
*/}}
{{- define "openclara.credentialsSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-credentials" (include "openclara.fullname" .)) }}
{{- end }}
{{- define "openclara.credentialsKey" -}}credentials.yaml{{- end }}
{{- define "openclara.credentialsDir" -}}/var/run/secrets/openclara{{- end }}

{{/* A new credentials file: random tokens (sprig's randAlphaNum reads crypto/rand), as openclara.auth.credentials writes them. */}}
{{- define "openclara.newCredentials" -}}
# openclara API credentials of release {{ .Release.Name }}, generated at install and kept by helm upgrade.
# Keep secret: each token is a bearer token with a role (docs/security.md).
tokens:
  - {name: admin, role: admin, token: {{ randAlphaNum 48 }}}
  - {name: services, role: operator, token: {{ randAlphaNum 48 }}}
  - {name: operators, role: operator, token: {{ randAlphaNum 48 }}}
{{- end }}

{{/*
The Secret as a volume of a pod. A Secret's files are root's; with the pod's fsGroup the kubelet makes
their group fsGroup and adds group read, so 0440 is what the container sees: readable by the service's
group, by no other user (openclara refuses a credentials file that others can read, and the default 0644
would be).
*/}}
{{- define "openclara.credentialsVolume" -}}
- name: credentials
  secret:
    secretName: {{ include "openclara.credentialsSecret" . }}
    items:
      - key: {{ include "openclara.credentialsKey" . }}
        path: {{ include "openclara.credentialsKey" . }}
    defaultMode: 0440
{{- end }}

{{- define "openclara.credentialsMount" -}}
- name: credentials
  mountPath: {{ include "openclara.credentialsDir" . }}
  readOnly: true
{{- end }}

{{/* A path, not a secret: the file is read by openclara.auth.credentials.default_path. */}}
{{- define "openclara.credentialsEnv" -}}
- name: CLARA_CREDENTIALS
  value: {{ include "openclara.credentialsDir" . }}/{{ include "openclara.credentialsKey" . }}
{{- end }}

{{/*
The `auth` section of a service's configuration file, as JSON: enabled, api_keys and trusted_clients from
the values' auth (they win), other keys (audit_log) from the component's config.auth.
(dict "root" $ "config" $v.config)
*/}}
{{- define "openclara.authConfig" -}}
{{- $auth := deepCopy (get .config "auth" | default dict) }}
{{- $_ := set $auth "enabled" .root.Values.auth.enabled }}
{{- $_ = set $auth "api_keys" .root.Values.auth.apiKeys }}
{{- $_ = set $auth "trusted_clients" .root.Values.auth.trustedClients }}
{{- toJson $auth }}
{{- end }}

{{/*
Zero-copy hand-off (values dicomAdapter.handOff; docs/kubernetes.md "Hand-off"): "true" when the adapter
mounts the shared volume and keeps its spool there, so that the platform hard-links spooled files into
payloads; empty otherwise. Only with executor kubernetes: with local there is no volume both pods mount.
Both pods mount the whole claim at the same path, so the paths each side sends (the adapter's spool
files) and checks (the platform's payload files) are the same in both, and a link stays within one mount
(link() fails across mount points, even of one file system).
*/}}
{{- define "openclara.handOff" -}}
{{- if and .Values.dicomAdapter.handOff (eq .Values.platform.executor "kubernetes") }}true{{ end }}
{{- end }}
{{- define "openclara.payloadsDir" -}}{{ include "openclara.sharedPath" . }}/payloads{{- end }}
{{- /* Beside payloads/ and models/, the only folders operator pods mount (as subPaths). */}}
{{- define "openclara.handOffSpoolDir" -}}{{ include "openclara.sharedPath" . }}/dicom/spool{{- end }}
{{- /* Result files waiting for export: on the shared volume too, so they are linked out of the payloads. */}}
{{- define "openclara.handOffExportSpoolDir" -}}{{ include "openclara.sharedPath" . }}/dicom/export-spool{{- end }}

{{- define "openclara.sharedClaim" -}}
{{- .Values.sharedVolume.existingClaim | default (printf "%s-shared" (include "openclara.fullname" .)) }}
{{- end }}

{{/* Pod-level settings every openclara pod shares. */}}
{{- define "openclara.podSpecCommon" -}}
# Kubernetes would add <SERVICE>_PORT=tcp://... variables for every Service of the namespace: a Service
# named clara-results would set CLARA_RESULTS_PORT and break the results service's settings.
enableServiceLinks: false
terminationGracePeriodSeconds: 60
securityContext: {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* nodeSelector, tolerations and affinity of one component's values. */}}
{{- define "openclara.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Kubernetes tolerations (tolerationSeconds) as the platform's settings spell them (toleration_seconds), as JSON. */}}
{{- define "openclara.settingsTolerations" -}}
{{- $out := list }}
{{- range $toleration := . }}
{{- $t := dict }}
{{- range $from, $to := dict "key" "key" "operator" "operator" "value" "value" "effect" "effect" "tolerationSeconds" "toleration_seconds" }}
{{- if hasKey $toleration $from }}
{{- $_ := set $t $to (get $toleration $from) }}
{{- end }}
{{- end }}
{{- $out = append $out $t }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The platform's platform-server.yaml. Three layers, later ones win: chart defaults (JSON logs),
platform.config from values, then the wiring below (addresses, paths, executor): the keys the chart
must control for the pods and Services to fit together.
*/}}
{{- define "openclara.platform.config" -}}
{{- $v := .Values.platform }}
{{- $data := include "openclara.dataPath" . }}
{{- $shared := include "openclara.sharedPath" . }}
{{- $wiring := dict
  "server" (dict "host" "0.0.0.0" "port" $v.service.port)
  "metrics" (dict "enabled" true "host" "0.0.0.0" "port" .Values.metrics.port "allowed_hosts" (include "openclara.serviceHosts" (dict "root" . "name" (include "openclara.platformHost" .) "extra" (dig "metrics" "allowed_hosts" list $v.config)) | fromJsonArray))
  "storage" (dict "data_dir" (printf "%s/platform" $data))
  "scheduler" (dict "max_concurrent_jobs" $v.maxConcurrentJobs "gpus" $v.gpus)
  "executor" (dict "kind" $v.executor)
  "results_service" (dict "url" (include "openclara.resultsUrl" .))
  "local_files" (dict "enabled" false)
}}
{{- if include "openclara.handOff" . }}
{{- $_ := set $wiring "local_files" (dict "enabled" true "directories" (list (include "openclara.handOffSpoolDir" .))) }}
{{- end }}
{{- if eq $v.executor "kubernetes" }}
{{- $o := $v.operators }}
{{- $_ := set $wiring.storage "payloads_dir" (include "openclara.payloadsDir" .) }}
{{- $_ = set $wiring.storage "models_dir" (printf "%s/models" $shared) }}
{{- $kubernetes := dict
  "namespace" .Release.Namespace
  "volumes" (list (dict "claim" (include "openclara.sharedClaim" .) "path" $shared))
  "platform_host" (include "openclara.platformHost" .)
  "node_selector" $o.nodeSelector
  "tolerations" (include "openclara.settingsTolerations" $o.tolerations | fromJsonArray)
  "gpu_node_selector" $o.gpuNodeSelector
  "gpu_tolerations" (include "openclara.settingsTolerations" $o.gpuTolerations | fromJsonArray)
  "image_pull_secrets" (concat .Values.imagePullSecrets $o.imagePullSecrets | uniq)
  "image_pull_policy" $o.imagePullPolicy
  "schedule_timeout" $o.scheduleTimeout
}}
{{- /* Operators run as the platform's user, so the platform can read and delete what they write. */}}
{{- with .Values.podSecurityContext.runAsUser }}
{{- $_ = set $kubernetes "run_as_user" . }}
{{- end }}
{{- with .Values.podSecurityContext.runAsGroup }}
{{- $_ = set $kubernetes "run_as_group" . }}
{{- end }}
{{- $_ = set $wiring.executor "kubernetes" $kubernetes }}
{{- end }}
{{- $file := mustMergeOverwrite (dict "log" (dict "format" "json")) (deepCopy $v.config) $wiring }}
{{- /* Set, not merged: a merge would not let auth.enabled=false replace a true. */}}
{{- $_ := set $file "auth" (include "openclara.authConfig" (dict "root" . "config" $v.config) | fromJson) }}
{{- toYaml $file }}
{{- end }}

{{/* The names a Service answers to inside the cluster: (dict "root" $ "name" "<service>" "extra" list). The REST
services refuse other Host headers (421, against DNS rebinding); `extra` are the user's own from config. */}}
{{- define "openclara.serviceHosts" -}}
{{- $ns := .root.Release.Namespace }}
{{- $hosts := list .name (printf "%s.%s" .name $ns) (printf "%s.%s.svc" .name $ns) (printf "%s.%s.svc.cluster.local" .name $ns) }}
{{- toJson (concat $hosts (.extra | default list)) }}
{{- end }}

{{/* The results service's results-service.yaml (same layering as the platform's). */}}
{{- define "openclara.results.config" -}}
{{- $v := .Values.results }}
{{- $wiring := dict
  "host" "0.0.0.0"
  "port" $v.service.port
  "platform_endpoint" (include "openclara.platformEndpoint" .)
  "database" (dict "path" (printf "%s/results/results.db" (include "openclara.dataPath" .)))
  "cleanup" (dict "enabled" $v.cleanup.enabled "retain_data_for_minutes" $v.cleanup.retainDataForMinutes)
  "allowed_hosts" (include "openclara.serviceHosts" (dict "root" . "name" (include "openclara.resultsHost" .) "extra" (dig "allowed_hosts" list $v.config)) | fromJsonArray)
}}
{{- $file := mustMergeOverwrite (dict "log_format" "json") (deepCopy $v.config) $wiring }}
{{- $_ := set $file "auth" (include "openclara.authConfig" (dict "root" . "config" $v.config) | fromJson) }}
{{- toYaml $file }}
{{- end }}

{{/*
DICOM TLS (values dicomAdapter.tls): the adapter's second listener, on a fixed container port, with its
certificate from a kubernetes.io/tls Secret mounted as a whole volume (no subPath: the kubelet swaps in a
renewed Secret and the adapter reloads it, scp.tls.reload_interval). The CAs of client certificates (key
ca.crt) come from the same Secret, or from clientCaSecretName mounted beside it.
*/}}
{{- define "openclara.dicomTls.port" -}}2762{{- end }}
{{- define "openclara.dicomTls.dir" -}}/etc/openclara/dicom-tls{{- end }}
{{- define "openclara.dicomTls.clientCaDir" -}}/etc/openclara/dicom-tls-client-ca{{- end }}

{{/* Refuses dicomAdapter.tls values that cannot work together; renders nothing. */}}
{{- define "openclara.dicomTls.check" -}}
{{- $t := .Values.dicomAdapter.tls }}
{{- $svc := .Values.dicomAdapter.service }}
{{- if not $t.secretName }}
{{- if or $t.required $t.clientCertificates $t.clientCaSecretName }}
{{- fail "dicomAdapter.tls: required, clientCertificates and clientCaSecretName need secretName (the Secret with the adapter's certificate)" }}
{{- end }}
{{- else }}
{{- if and $t.clientCaSecretName (not $t.clientCertificates) }}
{{- fail "dicomAdapter.tls.clientCaSecretName is read only with clientCertificates: true (set it, or leave clientCaSecretName empty)" }}
{{- end }}
{{- if not $t.required }}
{{- if eq (int $t.port) (int $svc.port) }}
{{- fail "dicomAdapter.tls.port equals dicomAdapter.service.port: the plain and the TLS DICOM ports need a port each" }}
{{- end }}
{{- if and $t.nodePort $svc.nodePort (eq (int $t.nodePort) (int $svc.nodePort)) (ne $svc.type "ClusterIP") }}
{{- fail "dicomAdapter.tls.nodePort equals dicomAdapter.service.nodePort: the plain and the TLS DICOM ports need a node port each" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The adapter's scp.tls as JSON, {} without DICOM TLS: the mounted files and the values' port and switches
win over dicomAdapter.config.scp.tls, whose reload_interval is kept. (dict "root" $ "config" $v.config)
*/}}
{{- define "openclara.dicomTls.scpConfig" -}}
{{- $t := .root.Values.dicomAdapter.tls }}
{{- $dir := include "openclara.dicomTls.dir" .root }}
{{- $user := dig "scp" "tls" dict .config }}
{{- $tls := dict }}
{{- if hasKey $user "reload_interval" }}
{{- $_ := set $tls "reload_interval" (get $user "reload_interval") }}
{{- end }}
{{- if $t.secretName }}
{{- $_ := set $tls "port" (include "openclara.dicomTls.port" .root | int) }}
{{- $_ = set $tls "cert_file" (printf "%s/tls.crt" $dir) }}
{{- $_ = set $tls "key_file" (printf "%s/tls.key" $dir) }}
{{- $_ = set $tls "required" $t.required }}
{{- if $t.clientCertificates }}
{{- $_ = set $tls "client_ca_file" (printf "%s/ca.crt" (ternary (include "openclara.dicomTls.clientCaDir" .root) $dir (not (empty $t.clientCaSecretName)))) }}
{{- end }}
{{- end }}
{{- toJson $tls }}
{{- end }}

{{/* The adapter's DICOM TLS volumes (none without dicomAdapter.tls.secretName): mode 0440 as the credentials'. */}}
{{- define "openclara.dicomTls.volumes" -}}
{{- $t := .Values.dicomAdapter.tls }}
{{- if $t.secretName }}
- name: dicom-tls
  secret:
    secretName: {{ $t.secretName }}
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      {{- if and $t.clientCertificates (not $t.clientCaSecretName) }}
      - {key: ca.crt, path: ca.crt}
      {{- end }}
    defaultMode: 0440
{{- if and $t.clientCertificates $t.clientCaSecretName }}
- name: dicom-tls-client-ca
  secret:
    secretName: {{ $t.clientCaSecretName }}
    items:
      - {key: ca.crt, path: ca.crt}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end }}

{{- define "openclara.dicomTls.mounts" -}}
{{- $t := .Values.dicomAdapter.tls }}
{{- if $t.secretName }}
- name: dicom-tls
  mountPath: {{ include "openclara.dicomTls.dir" . }}
  readOnly: true
{{- if and $t.clientCertificates $t.clientCaSecretName }}
- name: dicom-tls-client-ca
  mountPath: {{ include "openclara.dicomTls.clientCaDir" . }}
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{/* The DICOM adapter's dicom-adapter.yaml (same layering as the platform's). */}}
{{- define "openclara.dicomAdapter.config" -}}
{{- include "openclara.dicomTls.check" . }}
{{- $v := .Values.dicomAdapter }}
{{- $data := include "openclara.dataPath" . }}
{{- $wiring := dict
  "scp" (dict "host" "0.0.0.0" "port" 11112)
  "api" (dict "host" "0.0.0.0" "port" 5000 "allowed_hosts" (include "openclara.serviceHosts" (dict "root" . "name" (printf "%s-dicom-api" (include "openclara.fullname" .)) "extra" (dig "api" "allowed_hosts" list $v.config)) | fromJsonArray))
  "platform" (dict "endpoint" (include "openclara.platformEndpoint" .))
  "results" (dict "endpoint" (include "openclara.resultsUrl" .))
  "database" (dict "path" (printf "%s/dicom/adapter.db" $data))
  "storage" (dict "spool_dir" (printf "%s/dicom/spool" $data))
  "export" (dict "state_dir" (printf "%s/dicom/export" $data))
}}
{{- /* The database and the export progress (SQLite too) stay on the adapter's own volume in either case. */}}
{{- if include "openclara.handOff" . }}
{{- $_ := set $wiring.platform "local_files" true }}
{{- $_ = set $wiring.platform "payloads_dir" (include "openclara.payloadsDir" .) }}
{{- $_ = set $wiring.storage "spool_dir" (include "openclara.handOffSpoolDir" .) }}
{{- $_ = set $wiring.export "spool_dir" (include "openclara.handOffExportSpoolDir" .) }}
{{- else }}
{{- $_ := set $wiring.platform "local_files" false }}
{{- end }}
{{- $file := mustMergeOverwrite (dict "logging" (dict "format" "json")) (deepCopy $v.config) $wiring }}
{{- $_ := set $file "auth" (include "openclara.authConfig" (dict "root" . "config" $v.config) | fromJson) }}
{{- /* Set, not merged: a merge would keep the user's required: true or client_ca_file against the values. */}}
{{- $tls := include "openclara.dicomTls.scpConfig" (dict "root" . "config" $v.config) | fromJson }}
{{- if $tls }}
{{- $_ = set $file.scp "tls" $tls }}
{{- else }}
{{- $_ = unset $file.scp "tls" }}
{{- end }}
{{- toYaml $file }}
{{- end }}

{{/* A PersistentVolumeClaim: (dict "root" $ "component" "platform" "name" "..." "persistence" ... "accessMode" "ReadWriteOnce"). */}}
{{- define "openclara.pvc" -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ .name }}
  labels: {{- include "openclara.labels" . | nindent 4 }}
  {{- if .root.Values.keepVolumesOnUninstall }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
spec:
  accessModes: [{{ .accessMode }}]
  {{- with .persistence.storageClass }}
  storageClassName: {{ . | quote }}
  {{- end }}
  resources:
    requests:
      storage: {{ .persistence.size }}
{{- end }}
