{{/* Names, labels and the pieces every component's Deployment shares. */}}

{{- define "tandem.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; component objects append "-<component>" (so keep it short). */}}
{{- define "tandem.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* tandem.componentName (dict "root" $ "component" "speed") */}}
{{- define "tandem.componentName" -}}
{{- printf "%s-%s" (include "tandem.fullname" .root) .component -}}
{{- end -}}

{{- define "tandem.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "tandem.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tandem
{{- end -}}

{{/* Selects one component's pods; never changes once deployed (Deployment selectors are immutable). */}}
{{- define "tandem.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tandem.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tandem.componentLabels" -}}
{{ include "tandem.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tandem.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "tandem.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tandem.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The ConfigMap holding the config file, or "" when there is no file (built-in web config). */}}
{{- define "tandem.configMapName" -}}
{{- if .Values.config.existingConfigMap -}}
{{- .Values.config.existingConfigMap -}}
{{- else if .Values.config.content -}}
{{- printf "%s-config" (include "tandem.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the credentials, or "" when none is rendered or named. */}}
{{- define "tandem.credentialsSecretName" -}}
{{- if .Values.credentials.existingSecret -}}
{{- .Values.credentials.existingSecret -}}
{{- else if include "tandem.credentialsData" . -}}
{{- printf "%s-credentials" (include "tandem.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The credentials Secret's data: only the keys that have a value. */}}
{{- define "tandem.credentialsData" -}}
{{- $data := dict -}}
{{- with .Values.lake.s3.accessKeyId }}{{ $_ := set $data "AWS_ACCESS_KEY_ID" . }}{{ end -}}
{{- with .Values.lake.s3.secretAccessKey }}{{ $_ := set $data "AWS_SECRET_ACCESS_KEY" . }}{{ end -}}
{{- with .Values.redis.username }}{{ $_ := set $data "REDIS_USERNAME" . }}{{ end -}}
{{- with .Values.redis.password }}{{ $_ := set $data "REDIS_PASSWORD" . }}{{ end -}}
{{- with .Values.kafka.sasl.username }}{{ $_ := set $data "KAFKA_SASL_USERNAME" . }}{{ end -}}
{{- with .Values.kafka.sasl.password }}{{ $_ := set $data "KAFKA_SASL_PASSWORD" . }}{{ end -}}
{{- range $key, $value := $data }}
{{ $key }}: {{ $value | b64enc | quote }}
{{- end -}}
{{- end -}}

{{- define "tandem.apiKeysSecretName" -}}
{{- if .Values.apiKeys.existingSecret -}}
{{- .Values.apiKeys.existingSecret -}}
{{- else if .Values.apiKeys.value -}}
{{- printf "%s-api-keys" (include "tandem.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The process's arguments after the image's `tandem` entry point. */}}
{{- define "tandem.args" -}}
{{- $c := index .root.Values .component -}}
{{- $args := list -}}
{{- if eq .component "batch" -}}
{{- $args = list "batch" "schedule" -}}
{{- else -}}
{{- $args = list .component -}}
{{- end -}}
{{- if has .component (list "speed" "archiver" "batch") -}}
{{- $args = concat $args (list "--metrics-port" (toString $c.metricsPort)) -}}
{{- end -}}
{{- if has .component (list "speed" "archiver") -}}
{{- with $c.streams }}{{ $args = concat $args (list "--stream" (join "," .)) }}{{ end -}}
{{- end -}}
{{- toYaml $args -}}
{{- end -}}

{{/* The container port a component listens on, as "name number", or "" when it serves no HTTP. */}}
{{- define "tandem.port" -}}
{{- $c := index .root.Values .component -}}
{{- if eq .component "serve" -}}
http {{ $c.port }}
{{- else if has .component (list "speed" "archiver" "batch") -}}
metrics {{ $c.metricsPort }}
{{- end -}}
{{- end -}}
