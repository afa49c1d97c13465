{{- define "raygate-operator.name" -}}
{{- printf "%s" .Release.Name | trunc 53 | trimSuffix "-" -}}
{{- end -}}

{{- define "raygate-operator.labels" -}}
app.kubernetes.io/name: raygate-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "raygate-operator.selector" -}}
app.kubernetes.io/name: raygate-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
