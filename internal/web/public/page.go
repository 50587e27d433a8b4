package public

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/url"
	"strings"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/i18n"
)

// pageData is what the page template shows.
type pageData struct {
	Lang, HTMLLang, Dir string
	W                   *words
	Switch              []langLink
	Heading             string
	HeadingLang         string // the heading's lang and dir when they are not the page's (an alert's headline)
	HeadingDir          string
	Form                formData
	Alerts              []alertView
	Alert               *alertView // the alert page
	Message, More, AsOf string
	Error, RequestID    string
	lang                *i18n.Lang
}

type formData struct{ Q, Lat, Lon string }

// audioLink is a warning's spoken message (a CAP <resource>, docs/voice.md).
type audioLink struct{ URL, Type string }

type langLink struct {
	Name, Lang, Dir, Href string
	Current               bool
}

// alertView is one warning as the page shows it, in the language of the <info> chosen.
type alertView struct {
	Href, Lang, Dir                     string
	Headline, Event, Severity, SevClass string
	Area, Onset, Expires, Sender        string
	Description, Instruction            string
	LArea, LOnset, LExpires, LWhatToDo  string // i18n's labels, in the info's language
	LSender, LCAP, LSeverity, LListen   string
	LEvent, LDescription                string
	Exercise, NotReal                   string // for an Exercise: i18n's "EXERCISE" and "This is an exercise, not a real warning."
	CAP                                 string
	Audio                               []audioLink
	Others                              []langLink
}

// view renders e in the info that suits lang (i18n.ChooseInfo's order).
func (s *Server) view(e *entry, lang string, detail bool) alertView {
	id := e.msg.AlertID
	v := alertView{Href: "/alerts/" + itoa(id) + "?lang=" + lang,
		CAP: "/cap/alerts/" + url.PathEscape(e.msg.Identifier) + ".xml"}
	in := i18n.ChooseInfo(lang, e.cap)
	if in == nil {
		v.Headline = e.msg.Headline
		return v
	}
	tag := in.Language
	if base, _, _ := strings.Cut(tag, "-"); base != "" {
		tag = base
	}
	l := i18n.For(tag)
	w := texts[tag]
	if w == nil {
		w = texts["en"]
	}
	v.Lang, v.Dir = in.Language, l.Dir()
	if tag == "zh" {
		v.Lang = "zh-Hans"
	}
	v.Headline, v.Event, v.Description, v.Instruction, v.Sender = in.Headline, in.Event, in.Description, in.Instruction, in.SenderName
	if v.Headline == "" {
		v.Headline = in.Event
	}
	v.Severity = w.Severities[in.Severity]
	if v.Severity == "" {
		v.Severity = string(in.Severity)
	}
	v.SevClass = strings.ToLower(string(in.Severity))
	var descs []string
	for _, a := range in.Areas {
		if a.AreaDesc != "" {
			descs = append(descs, a.AreaDesc)
		}
	}
	v.Area = strings.Join(descs, "; ")
	zone := s.zone()
	if !in.Onset.IsZero() {
		v.Onset = l.DateTime(in.Onset, zone)
	}
	if !in.Expires.IsZero() {
		v.Expires = l.DateTime(in.Expires, zone)
	}
	v.LArea, v.LOnset, v.LExpires, v.LWhatToDo = l.Text(i18n.LabelArea), l.Text(i18n.LabelOnset), l.Text(i18n.LabelExpires), l.Text(i18n.LabelWhatToDo)
	v.LSender, v.LCAP, v.LSeverity, v.LListen = l.Text(i18n.LabelSender), l.Text(i18n.LabelCAP), w.Severity, w.Listen
	v.LEvent, v.LDescription = w.Event, w.Description
	if e.cap.Status == cap.StatusExercise {
		v.Exercise, v.NotReal = l.Text(i18n.LabelExercise), l.Text(i18n.LabelNotReal)
	}
	if !detail {
		return v
	}
	for _, r := range in.Resources {
		if strings.HasPrefix(r.MimeType, "audio/") && r.URI != "" && safeLink(r.URI) {
			v.Audio = append(v.Audio, audioLink{URL: r.URI, Type: r.MimeType})
		}
	}
	for _, t := range Langs {
		if t == tag || !hasInfo(e.cap, t) {
			continue
		}
		v.Others = append(v.Others, langLink{Name: langNames[t], Lang: htmlLang[t], Dir: i18n.For(t).Dir(), Href: "/alerts/" + itoa(id) + "?lang=" + t})
	}
	return v
}

// safeLink accepts http(s) URLs and paths only (a CAP resource's URI is the node's own, but
// a link on a public page is checked all the same).
func safeLink(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "" && strings.HasPrefix(s, "/"))
}

func hasInfo(a *cap.Alert, tag string) bool {
	for _, in := range a.Infos {
		if base, _, _ := strings.Cut(in.Language, "-"); base == tag {
			return true
		}
	}
	return false
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// style is the page's whole CSS: system fonts (a Nastaliq or Naskh face for Urdu, none
// downloaded), logical properties so that right-to-left pages mirror, colours with at least
// 4.5:1 contrast, severity shown by a word as well as a colour.
const style = `body{margin:0;font:1rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff}
:lang(ur){font-family:"Noto Nastaliq Urdu","Jameel Noori Nastaleeq","Noto Naskh Arabic",serif;line-height:2.2}
:lang(zh-Hans){font-family:"Noto Sans CJK SC","Noto Serif CJK SC","Microsoft YaHei",sans-serif}
header,main,footer{max-width:40rem;margin:auto;padding:.5rem 1rem}
header{border-block-end:1px solid #767676}
a{color:#0645ad}a:focus,button:focus,input:focus{outline:3px solid #b35c00;outline-offset:2px}
.skip{position:absolute;inset-inline-start:-999px}.skip:focus{inset-inline-start:1rem;background:#fff;padding:.25rem}
nav ul{list-style:none;display:flex;gap:1rem;padding:0;margin:.25rem 0}
[aria-current]{font-weight:bold;color:#1a1a1a}
form{margin:.5rem 0}label{display:block}input{font:inherit;padding:.25rem;max-width:14rem}
button{font:inherit;padding:.25rem .75rem;background:#0645ad;color:#fff;border:0;border-radius:3px}
fieldset{border:1px solid #767676;margin:.5rem 0}
article{border-inline-start:.5rem solid #767676;padding:.25rem .75rem;margin:1rem 0;background:#f6f6f6}
.extreme{border-color:#8b0000}.severe{border-color:#c4302b}.moderate{border-color:#b35c00}.minor{border-color:#7a6a00}
h1{font-size:1.4rem}h2{font-size:1.2rem;margin:.25rem 0}h3{font-size:1rem;margin:.5rem 0 0}
dl{display:grid;grid-template-columns:auto 1fr;gap:0 .75rem;margin:.25rem 0}dt{font-weight:bold}dd{margin:0}
.sev{font-weight:bold}.note{color:#4a4a4a;font-size:.9rem}.err{color:#a00000;font-weight:bold}
.ex{border:2px dashed #1a1a1a;padding:.25rem .5rem}`

// script is the one optional script: it shows the "use my location" button, asks the browser
// for the reader's position and sends the location form. The page works fully without it.
const script = `(function(){var b=document.getElementById("geo"),f=document.getElementById("loc");if(!b||!f||!navigator.geolocation)return;b.hidden=false;b.onclick=function(){navigator.geolocation.getCurrentPosition(function(p){f.lat.value=p.coords.latitude.toFixed(4);f.lon.value=p.coords.longitude.toFixed(4);f.submit()})}})();`

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// csp allows the page's own inline style and script (by hash), forms to the node, links to
// nothing else loaded: no third-party request can be made from the page.
var csp = "default-src 'none'; style-src " + hash(style) + "; script-src " + hash(script) +
	"; img-src 'self' data:; media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="{{.HTMLLang}}" dir="{{.Dir}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Heading}} · Rabta</title>
<link rel="icon" href="data:,">
<style>` + style + `</style>
</head>
<body>
<a class="skip" href="#main">{{.W.Skip}}</a>
<header>
<nav aria-label="{{.W.Language}}"><ul>{{range .Switch}}<li><a href="{{.Href}}" lang="{{.Lang}}" dir="{{.Dir}}" hreflang="{{.Lang}}"{{if .Current}} aria-current="page"{{end}}>{{.Name}}</a></li>{{end}}</ul></nav>
<form method="get" action="/" role="search">
<input type="hidden" name="lang" value="{{.Lang}}">
<label for="q">{{.W.Place}}</label>
<input id="q" name="q" type="search" maxlength="100" value="{{.Form.Q}}" autocomplete="off">
<button type="submit">{{.W.Search}}</button>
</form>
<form method="get" action="/" id="loc">
<input type="hidden" name="lang" value="{{.Lang}}">
<fieldset><legend>{{.W.Location}}</legend>
<label for="lat">{{.W.Lat}}</label><input id="lat" name="lat" inputmode="decimal" maxlength="32" value="{{.Form.Lat}}" dir="ltr">
<label for="lon">{{.W.Lon}}</label><input id="lon" name="lon" inputmode="decimal" maxlength="32" value="{{.Form.Lon}}" dir="ltr">
<button type="submit">{{.W.Show}}</button> <button type="button" id="geo" hidden>{{.W.UseLocation}}</button>
</fieldset>
</form>
</header>
<main id="main" tabindex="-1">
<h1{{if .HeadingLang}} lang="{{.HeadingLang}}" dir="{{.HeadingDir}}"{{end}}>{{.Heading}}</h1>
{{if .Error}}<p class="err">{{.Error}}</p>{{if .RequestID}}<p class="note">{{.RequestID}}</p>{{end}}{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{range .Alerts}}<article class="{{.SevClass}}" lang="{{.Lang}}" dir="{{.Dir}}">
{{if .Exercise}}<p class="ex"><strong>{{.Exercise}}</strong> {{.NotReal}}</p>{{end}}<h2><a href="{{.Href}}">{{.Headline}}</a></h2>
<p class="sev">{{.LSeverity}}: {{.Severity}}{{if .Event}} · {{.Event}}{{end}}</p>
<dl>{{if .Area}}<dt>{{.LArea}}</dt><dd>{{.Area}}</dd>{{end}}{{if .Onset}}<dt>{{.LOnset}}</dt><dd>{{.Onset}}</dd>{{end}}{{if .Expires}}<dt>{{.LExpires}}</dt><dd>{{.Expires}}</dd>{{end}}</dl>
{{if .Instruction}}<h3>{{.LWhatToDo}}</h3><p>{{.Instruction}}</p>{{end}}
</article>
{{end}}{{if .More}}<p>{{.More}}</p>{{end}}
{{with .Alert}}<article class="{{.SevClass}}" lang="{{.Lang}}" dir="{{.Dir}}">
{{if .Exercise}}<p class="ex"><strong>{{.Exercise}}</strong> {{.NotReal}}</p>{{end}}<p class="sev">{{.LSeverity}}: {{.Severity}}</p>
<dl>{{if .Event}}<dt>{{.LEvent}}</dt><dd>{{.Event}}</dd>{{end}}{{if .Area}}<dt>{{.LArea}}</dt><dd>{{.Area}}</dd>{{end}}{{if .Onset}}<dt>{{.LOnset}}</dt><dd>{{.Onset}}</dd>{{end}}{{if .Expires}}<dt>{{.LExpires}}</dt><dd>{{.Expires}}</dd>{{end}}{{if .Sender}}<dt>{{.LSender}}</dt><dd>{{.Sender}}</dd>{{end}}</dl>
{{if .Instruction}}<h2>{{.LWhatToDo}}</h2><p>{{.Instruction}}</p>{{end}}
{{if .Description}}<h2>{{.LDescription}}</h2><p>{{.Description}}</p>{{end}}
<ul>{{range .Audio}}<li><a href="{{.URL}}" type="{{.Type}}">{{$.Alert.LListen}}</a></li>{{end}}<li><a href="{{.CAP}}" type="application/cap+xml" dir="ltr">{{.LCAP}}</a></li></ul>
</article>
{{if .Others}}<h2>{{$.W.Other}}</h2><ul>{{range .Others}}<li><a href="{{.Href}}" lang="{{.Lang}}" dir="{{.Dir}}" hreflang="{{.Lang}}">{{.Name}}</a></li>{{end}}</ul>{{end}}
{{end}}
</main>
<footer>
<p class="note">{{if .AsOf}}{{.AsOf}} · {{end}}<a href="/?lang={{.Lang}}">{{.W.All}}</a> · <a href="/cap/alerts.atom" dir="ltr">CAP Atom</a></p>
</footer>
<script>` + script + `</script>
</body>
</html>
`))
