package i18n

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strings"
	ttemplate "text/template"
	"time"
	"unicode"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/sms"
)

// SMS budgets: a message is kept to at most this many parts where it can be (3GPP TS 23.040
// concatenation; 2 × 67 UCS-2 units = 134, 3 × 153 GSM-7 septets = 459).
const (
	SMSMaxPartsUCS2 = 2
	SMSMaxPartsGSM7 = 3
)

// RenderSMS writes the short form of one <info> of an issued alert: the exercise or test mark
// when the alert's status is Exercise or Test, the headline, the instruction, and link (the
// public alert page, "" for none). When the text would take more than SMSMaxPartsUCS2 UCS-2
// parts or SMSMaxPartsGSM7 GSM-7 parts, the instruction is shortened word by word first (with
// an ellipsis), then dropped, then the headline shortened; the mark and the link are never
// cut. It returns the text and its sms.Plan (coding and parts, known before sending).
func RenderSMS(a *cap.Alert, in *cap.Info, link string) (string, sms.Plan) {
	l := For(in.Language)
	mark := statusMark(a, l)
	head, instr := clean(in.Headline), clean(in.Instruction)
	build := func(head, instr string) string {
		var b strings.Builder
		b.WriteString(mark)
		b.WriteString(head)
		if instr != "" {
			b.WriteString(l.stop(head))
			b.WriteString(instr)
		}
		if link != "" {
			b.WriteString(" ")
			b.WriteString(link)
		}
		return b.String()
	}
	fits := func(s string) (sms.Plan, bool) {
		p := sms.Analyze(s)
		if p.Coding == sms.GSM7 {
			return p, p.Parts <= SMSMaxPartsGSM7
		}
		return p, p.Parts <= SMSMaxPartsUCS2
	}
	text := build(head, instr)
	if p, ok := fits(text); ok {
		return text, p
	}
	dots := ellipsis(text)
	// The most words that fit, found by bisection (the parts grow with the words kept).
	longest := func(words []string, min int, make func(int) string) (string, sms.Plan, bool) {
		lo, hi := min-1, len(words) // make(lo) fits or lo < min; make(hi+1) does not exist
		var best string
		var plan sms.Plan
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if p, ok := fits(make(mid)); ok {
				lo, best, plan = mid, make(mid), p
			} else {
				hi = mid - 1
			}
		}
		return best, plan, lo >= min
	}
	iw := strings.Fields(instr)
	if t, p, ok := longest(iw, 1, func(k int) string { return build(head, strings.Join(iw[:k], " ")+dots) }); ok {
		return t, p
	}
	hw := strings.Fields(head)
	if t, p, ok := longest(hw, 1, func(k int) string {
		if k == len(hw) {
			return build(head, "")
		}
		return build(strings.Join(hw[:k], " ")+dots, "")
	}); ok {
		return t, p
	}
	t := build(head, "")
	return t, sms.Analyze(t)
}

// ellipsis is "…" in a text that is UCS-2 anyway, "..." in a GSM-7 one ("…" is not in the
// GSM 03.38 alphabet and would double the cost of every character).
func ellipsis(text string) string {
	if sms.Analyze(text).Coding == sms.GSM7 {
		return "..."
	}
	return "…"
}

// stop ends a sentence before the next one, unless it already ends with punctuation.
func (l *Lang) stop(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(s)
	if unicode.IsPunct(r[len(r)-1]) {
		if l.Tag == "zh" {
			return ""
		}
		return " "
	}
	switch l.Tag {
	case "zh":
		return "。"
	case "ur", "pnb":
		return "۔ "
	}
	return ". "
}

// statusMark is the prefix of an Exercise or Test message ("EXERCISE: ", "مشق: ", "【演练】").
func statusMark(a *cap.Alert, l *Lang) string {
	var k Label
	switch a.Status {
	case cap.StatusExercise:
		k = LabelExercise
	case cap.StatusTest:
		k = LabelTest
	default:
		return ""
	}
	if l.Tag == "zh" {
		return "【" + l.Text(k) + "】"
	}
	return l.Text(k) + ": "
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// EmailOptions is what the e-mail form needs besides the alert.
type EmailOptions struct {
	Zone        *time.Location // for onset and expiry; nil: Asia/Karachi, else UTC when the zone database is missing
	Page        string         // the public alert page; "" uses the info's <web>
	CAP         string         // the URL of the CAP XML
	Unsubscribe string         // the subscriber's unsubscribe link (also for the List-Unsubscribe header)
}

// Email is the long form of one <info>: a subject, a plain-text part and an HTML part, both
// in the info's language; the HTML carries lang and dir ("rtl" for Urdu, Sindhi, Pashto and
// Punjabi) on <html> and <body>.
type Email struct {
	Lang    string // Content-Language, the info's language tag (CAP's default en-US when absent)
	Dir     string // "rtl" or "ltr"
	Subject string
	Text    string
	HTML    string
}

// RenderEmail writes the e-mail form of in: subject (status mark, Cancelled/Update, headline),
// the note that an exercise is not real, headline, description, area, onset and expiry as
// local times in o.Zone, what to do, the sender, the links to the public page, to the CAP XML
// and to unsubscribe.
func RenderEmail(a *cap.Alert, in *cap.Info, o EmailOptions) (Email, error) {
	l := For(in.Language)
	zone := o.Zone
	if zone == nil {
		zone = karachi()
	}
	tag := in.Language
	if tag == "" {
		tag = "en-US"
	}
	v := emailView{Lang: tag, Dir: l.Dir(), Headline: clean(in.Headline), Description: strings.TrimSpace(in.Description),
		Instruction: strings.TrimSpace(in.Instruction), Page: o.Page, CAP: o.CAP, Unsubscribe: o.Unsubscribe}
	if v.Page == "" {
		v.Page = in.Web
	}
	prefix := statusMark(a, l)
	switch a.MsgType {
	case cap.MsgCancel:
		prefix += l.Text(LabelCancelled) + ": "
	case cap.MsgUpdate:
		prefix += l.Text(LabelUpdated) + ": "
	}
	if l.Tag == "zh" {
		prefix = strings.ReplaceAll(prefix, ": ", "：")
	}
	v.Subject = prefix + v.Headline
	if a.Status == cap.StatusExercise || a.Status == cap.StatusTest {
		v.NotReal = l.Text(LabelNotReal)
	}
	var areas []string
	for _, ar := range in.Areas {
		if d := clean(ar.AreaDesc); d != "" {
			areas = append(areas, d)
		}
	}
	v.Area = strings.Join(areas, l.listSep())
	if !in.Onset.IsZero() {
		v.Onset = l.DateTime(in.Onset, zone)
	}
	if !in.Expires.IsZero() {
		v.Expires = l.DateTime(in.Expires, zone)
	}
	v.Sender = in.SenderName
	if v.Sender == "" {
		v.Sender = a.Sender
	}
	v.L = map[string]string{}
	for _, k := range []Label{LabelArea, LabelOnset, LabelExpires, LabelWhatToDo, LabelSender, LabelDetails, LabelCAP, LabelUnsubscribe} {
		v.L[string(k)] = l.Text(k)
	}
	v.Colon = ": "
	if l.Tag == "zh" {
		v.Colon = "："
	}
	var text, html bytes.Buffer
	if err := textTmpl.Execute(&text, v); err != nil {
		return Email{}, fmt.Errorf("e-mail text: %w", err)
	}
	if err := htmlTmpl.Execute(&html, v); err != nil {
		return Email{}, fmt.Errorf("e-mail html: %w", err)
	}
	return Email{Lang: tag, Dir: l.Dir(), Subject: v.Subject, Text: squeeze(text.String()), HTML: html.String()}, nil
}

func (l *Lang) listSep() string {
	switch l.Tag {
	case "zh":
		return "、"
	case "en":
		return "; "
	}
	return "؛ "
}

type emailView struct {
	Lang, Dir, Subject, NotReal, Headline, Description, Area, Onset, Expires, Instruction, Sender string
	Page, CAP, Unsubscribe                                                                        string
	L                                                                                             map[string]string
	Colon                                                                                         string
}

// squeeze drops trailing spaces and collapses runs of blank lines left by absent sections.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	s = strings.Join(lines, "\n")
	for strings.Contains(s, "\n\n\n") {
		s = strings.ReplaceAll(s, "\n\n\n", "\n\n")
	}
	return strings.TrimSpace(s) + "\n"
}

// textTmpl writes the plain-text part (a text template: nothing is escaped there).
var textTmpl = ttemplate.Must(ttemplate.New("text").Parse(`{{if .NotReal}}{{.NotReal}}

{{end}}{{.Headline}}

{{.Description}}

{{if .Area}}{{index .L "area"}}{{.Colon}}{{.Area}}
{{end}}{{if .Onset}}{{index .L "onset"}}{{.Colon}}{{.Onset}}
{{end}}{{if .Expires}}{{index .L "expires"}}{{.Colon}}{{.Expires}}
{{end}}
{{if .Instruction}}{{index .L "whatToDo"}}{{.Colon}}
{{.Instruction}}
{{end}}
{{if .Sender}}{{index .L "sender"}}{{.Colon}}{{.Sender}}
{{end}}{{if .Page}}{{index .L "details"}}{{.Colon}}{{.Page}}
{{end}}{{if .CAP}}{{index .L "cap"}}{{.Colon}}{{.CAP}}
{{end}}
{{if .Unsubscribe}}{{index .L "unsubscribe"}}{{.Colon}}{{.Unsubscribe}}
{{end}}`))

var htmlTmpl = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}" dir="{{.Dir}}">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body dir="{{.Dir}}" style="font-family: sans-serif; line-height: 1.5">
{{if .NotReal}}<p><strong>{{.NotReal}}</strong></p>
{{end}}<h1>{{.Headline}}</h1>
{{if .Description}}<p>{{.Description}}</p>
{{end}}<table>
{{if .Area}}<tr><th>{{index .L "area"}}</th><td>{{.Area}}</td></tr>
{{end}}{{if .Onset}}<tr><th>{{index .L "onset"}}</th><td>{{.Onset}}</td></tr>
{{end}}{{if .Expires}}<tr><th>{{index .L "expires"}}</th><td>{{.Expires}}</td></tr>
{{end}}{{if .Sender}}<tr><th>{{index .L "sender"}}</th><td>{{.Sender}}</td></tr>
{{end}}</table>
{{if .Instruction}}<h2>{{index .L "whatToDo"}}</h2>
<p>{{.Instruction}}</p>
{{end}}<p>{{if .Page}}<a href="{{.Page}}" dir="ltr">{{index .L "details"}}</a>{{end}}{{if and .Page .CAP}} · {{end}}{{if .CAP}}<a href="{{.CAP}}" dir="ltr">{{index .L "cap"}}</a>{{end}}</p>
{{if .Unsubscribe}}<p><small><a href="{{.Unsubscribe}}" dir="ltr">{{index .L "unsubscribe"}}</a></small></p>
{{end}}</body>
</html>
`))

// Webhook content types: the JSON payload, and CAP XML passed through as issued.
const (
	ContentTypeJSON = "application/json; charset=utf-8"
	ContentTypeCAP  = "application/cap+xml"
)

// Payload is the webhook's JSON form of an issued alert (version 1; fields are camelCase and
// stable; absent optional fields are omitted). Times are RFC 3339 with the sender's offset,
// as in the CAP message. The CAP XML itself is the authoritative form: a receiver that wants
// everything takes ContentTypeCAP instead.
type Payload struct {
	Version    int           `json:"version"`              // 1
	Identifier string        `json:"identifier"`           // CAP <identifier>
	Sender     string        `json:"sender"`               // CAP <sender>
	Sent       time.Time     `json:"sent"`                 // CAP <sent>
	Status     string        `json:"status"`               // Actual | Exercise | System | Test | Draft
	MsgType    string        `json:"msgType"`              // Alert | Update | Cancel | Ack | Error
	Scope      string        `json:"scope"`                // Public | Restricted | Private
	Note       string        `json:"note,omitempty"`       // CAP <note>
	References []string      `json:"references,omitempty"` // "sender,identifier,sent" as in CAP
	CAP        string        `json:"cap,omitempty"`        // URL of the CAP XML
	Infos      []PayloadInfo `json:"infos"`                // one per language, as in the CAP message
}

// PayloadInfo is one <info> of the payload.
type PayloadInfo struct {
	Language    string        `json:"language"` // BCP 47 tag ("en-US" when CAP gave none)
	Dir         string        `json:"dir"`      // "rtl" or "ltr"
	Event       string        `json:"event"`
	Urgency     string        `json:"urgency"`
	Severity    string        `json:"severity"`
	Certainty   string        `json:"certainty"`
	Headline    string        `json:"headline,omitempty"`
	Description string        `json:"description,omitempty"`
	Instruction string        `json:"instruction,omitempty"`
	SenderName  string        `json:"senderName,omitempty"`
	Web         string        `json:"web,omitempty"`
	Onset       *time.Time    `json:"onset,omitempty"`
	Expires     *time.Time    `json:"expires,omitempty"`
	Areas       []PayloadArea `json:"areas,omitempty"`
}

// PayloadArea is one <area>: its description, polygons as [latitude, longitude] pairs
// (WGS 84, closed rings), circles and geocodes.
type PayloadArea struct {
	Desc     string          `json:"desc"`
	Polygons [][][2]float64  `json:"polygons,omitempty"`
	Circles  []PayloadCircle `json:"circles,omitempty"`
	Geocodes []PayloadCode   `json:"geocodes,omitempty"`
}

// PayloadCircle is a CAP circle: centre and radius in kilometres.
type PayloadCircle struct {
	Lat      float64 `json:"lat"`
	Lon      float64 `json:"lon"`
	RadiusKm float64 `json:"radiusKm"`
}

// PayloadCode is a CAP geocode.
type PayloadCode struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RenderWebhook returns the JSON payload (ContentTypeJSON) of an issued alert with every info;
// capURL, when not "", links the CAP XML.
func RenderWebhook(a *cap.Alert, capURL string) ([]byte, error) {
	p := Payload{Version: 1, Identifier: a.Identifier, Sender: a.Sender, Sent: a.Sent, Status: string(a.Status),
		MsgType: string(a.MsgType), Scope: string(a.Scope), Note: a.Note, CAP: capURL, Infos: []PayloadInfo{}}
	for _, r := range a.References {
		p.References = append(p.References, r.Sender+","+r.Identifier+","+r.Sent.Format(time.RFC3339))
	}
	for _, in := range a.Infos {
		tag := in.Language
		if tag == "" {
			tag = "en-US"
		}
		pi := PayloadInfo{Language: tag, Dir: For(tag).Dir(), Event: in.Event, Urgency: string(in.Urgency), Severity: string(in.Severity),
			Certainty: string(in.Certainty), Headline: in.Headline, Description: in.Description, Instruction: in.Instruction,
			SenderName: in.SenderName, Web: in.Web}
		if !in.Onset.IsZero() {
			t := in.Onset
			pi.Onset = &t
		}
		if !in.Expires.IsZero() {
			t := in.Expires
			pi.Expires = &t
		}
		for _, ar := range in.Areas {
			pa := PayloadArea{Desc: ar.AreaDesc}
			for _, pg := range ar.Polygons {
				var ring [][2]float64
				for _, pt := range pg {
					ring = append(ring, [2]float64{pt.Lat, pt.Lon})
				}
				pa.Polygons = append(pa.Polygons, ring)
			}
			for _, c := range ar.Circles {
				pa.Circles = append(pa.Circles, PayloadCircle{Lat: c.Center.Lat, Lon: c.Center.Lon, RadiusKm: c.RadiusKM})
			}
			for _, g := range ar.Geocodes {
				pa.Geocodes = append(pa.Geocodes, PayloadCode{Name: g.ValueName, Value: g.Value})
			}
			pi.Areas = append(pi.Areas, pa)
		}
		p.Infos = append(p.Infos, pi)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("webhook payload: %w", err)
	}
	return b.Bytes(), nil
}

// Karachi is Asia/Karachi, the default zone of Pakistan's nodes; when the zone database is
// missing it is a fixed UTC+05:00 named like it (Pakistan has kept no daylight saving time
// since 2009).
func Karachi() *time.Location { return karachi() }

func karachi() *time.Location {
	if loc, err := time.LoadLocation("Asia/Karachi"); err == nil {
		return loc
	}
	return time.FixedZone("Asia/Karachi", 5*3600)
}

// ChooseInfo returns the <info> of a to send to a person who prefers the language preferred
// (Choose's order), or nil when a has no info.
func ChooseInfo(preferred string, a *cap.Alert) *cap.Info {
	tags := make([]string, len(a.Infos))
	for i, in := range a.Infos {
		tags[i] = in.Language
	}
	if i := Choose(preferred, tags); i >= 0 {
		return &a.Infos[i]
	}
	return nil
}
