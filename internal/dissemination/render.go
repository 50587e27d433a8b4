package dissemination

import (
	"errors"
	"html"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/i18n"
)

// Messages renders deliveries with package i18n's forms: SMS short form, e-mail long form
// (plain text and HTML), webhook payload (the signed CAP XML as issued). A message's text is
// rendered once per CAP message, language and channel and kept; only the unsubscribe link
// differs per recipient.
type Messages struct {
	Zone *time.Location // times in e-mails (nil: Asia/Karachi)

	cache sync.Map // identifier|language|channel → channel.Message
}

// voiceMessage is a call's message: the audio <resource> (audio/wav, package voice) of the
// info chosen among those that have one, in Choose's order — so a Pashto listener, whose
// language espeak-ng cannot speak, hears the Urdu audio. When no info has audio (the node
// renders none, or issuing ran out of time), the chosen info's audio where the node serves
// it (base + "<lang>.wav"), rendered when the gateway fetches it.
func voiceMessage(a *cap.Alert, lang string, chosen *cap.Info, base string) channel.Message {
	var tags, uris []string
	var infos []*cap.Info
	for i := range a.Infos {
		for _, r := range a.Infos[i].Resources {
			if r.MimeType == "audio/wav" && r.URI != "" {
				tags, uris, infos = append(tags, a.Infos[i].Language), append(uris, r.URI), append(infos, &a.Infos[i])
				break
			}
		}
	}
	if i := i18n.Choose(lang, tags); i >= 0 {
		return channel.Message{Language: infos[i].Language, AudioURL: uris[i]}
	}
	m := channel.Message{Language: chosen.Language}
	if base != "" {
		m.AudioURL = base + strings.ToLower(chosen.Language) + ".wav"
	}
	return m
}

// placeholder stands for the recipient's unsubscribe link in a cached rendering.
const placeholder = "https://rabta.invalid/unsubscribe-link"

// Render implements Renderer.
func (r *Messages) Render(kind channel.Kind, a *cap.Alert, xml []byte, lang string, links Links) (channel.Message, error) {
	key := a.Identifier + "|" + lang + "|" + string(kind) + "|" + links.Alert
	var m channel.Message
	if v, ok := r.cache.Load(key); ok {
		m = v.(channel.Message)
	} else {
		in := i18n.ChooseInfo(lang, a)
		if in == nil {
			return m, errors.New("the CAP message has no <info>")
		}
		switch kind {
		case channel.SMS:
			text, _ := i18n.RenderSMS(a, in, links.Alert)
			m = channel.Message{Language: in.Language, Text: text}
		case channel.Email:
			e, err := i18n.RenderEmail(a, in, i18n.EmailOptions{Zone: r.Zone, Page: links.Alert, CAP: links.CAP, Unsubscribe: placeholder})
			if err != nil {
				return m, err
			}
			m = channel.Message{Language: e.Lang, Subject: e.Subject, Text: e.Text, HTML: e.HTML}
		case channel.Webhook:
			m = channel.Message{Language: in.Language, Body: xml, ContentType: i18n.ContentTypeCAP}
		case channel.Voice:
			m = voiceMessage(a, lang, in, links.Audio)
		default:
			return m, errors.New("no form for channel " + string(kind))
		}
		r.cache.Store(key, m)
	}
	if kind == channel.Email {
		m.Text = strings.ReplaceAll(m.Text, placeholder, links.Unsubscribe)
		m.HTML = strings.ReplaceAll(m.HTML, placeholder, html.EscapeString(links.Unsubscribe))
		m.UnsubscribeURL = links.Unsubscribe
	}
	return m, nil
}
