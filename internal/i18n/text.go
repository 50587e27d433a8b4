package i18n

import "text/template"

func mustText(s string) *template.Template { return template.Must(template.New("text").Parse(s)) }
