{{- define "openclara.labels" -}}
app.kubernetes.io/part-of: openclara
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "openclara.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
