package email

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/channel"
)

// compose builds the RFC 5322 message for m: headers, then a multipart/alternative body with
// a text/plain part and, when m.HTML is set, a text/html part (RFC 2046 §5.1.4: the plainest
// first). Lines end in CRLF.
//
// Headers: Date, From, To, Subject (RFC 2047 encoded-words when not plain ASCII), Message-ID,
// MIME-Version, Content-Language (RFC 3282) when m.Language is set, Auto-Submitted:
// auto-generated (RFC 3834, so that auto-responders stay quiet), and, when m.UnsubscribeURL is
// set, List-Unsubscribe (RFC 2369) and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC
// 8058).
func compose(m channel.Message, from *mail.Address, to, messageID string, now time.Time) ([]byte, error) {
	if !utf8.ValidString(m.Subject) || !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
		return nil, errors.New("subject, text or HTML is not valid UTF-8")
	}
	if m.Text == "" && m.HTML == "" {
		return nil, errors.New("no text and no HTML to send")
	}
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("Date", now.Format(time.RFC1123Z))
	header("From", from.String())
	header("To", (&mail.Address{Address: to}).String())
	if subj := encodeHeader(m.Subject); subj != m.Subject && len("Subject: ")+strings.Index(subj+"\r", "\r") > 78 {
		header("Subject", "\r\n "+subj) // folded at once: an encoded-word may be 75 long
	} else {
		header("Subject", subj)
	}
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	if m.Language != "" {
		if !isLanguageTag(m.Language) {
			return nil, fmt.Errorf("language %q is not a BCP 47 tag", m.Language)
		}
		header("Content-Language", m.Language)
	}
	header("Auto-Submitted", "auto-generated")
	if m.UnsubscribeURL != "" {
		u, err := url.Parse(m.UnsubscribeURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
			strings.ContainsAny(m.UnsubscribeURL, "<>\r\n \t") {
			return nil, fmt.Errorf("unsubscribe URL %q is not an http(s) URL", m.UnsubscribeURL)
		}
		header("List-Unsubscribe", "<"+m.UnsubscribeURL+">")
		header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}

	if m.HTML == "" {
		return writePart(&b, "text/plain", m.Text), nil
	}
	mw := multipart.NewWriter(&b)
	header("Content-Type", "multipart/alternative;\r\n "+strings.TrimPrefix(
		mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}), "multipart/alternative; "))
	b.WriteString("\r\n")
	for _, p := range []struct{ typ, text string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		enc, body := encodeBody(p.text)
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", mime.FormatMediaType(p.typ, map[string]string{"charset": "utf-8"}))
		h.Set("Content-Transfer-Encoding", enc)
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		w.Write(body)
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writePart ends the headers of a single-part message with its Content-Type and encoding and
// writes its body.
func writePart(b *bytes.Buffer, typ, text string) []byte {
	enc, body := encodeBody(text)
	fmt.Fprintf(b, "Content-Type: %s\r\nContent-Transfer-Encoding: %s\r\n\r\n",
		mime.FormatMediaType(typ, map[string]string{"charset": "utf-8"}), enc)
	b.Write(body)
	return b.Bytes()
}

// encodeBody chooses the transfer encoding (RFC 2045 §6) for UTF-8 text: quoted-printable when
// the text is mostly ASCII (it stays readable), base64 otherwise (Urdu or Chinese in
// quoted-printable takes three times the bytes; base64 takes 4/3). Line ends become CRLF.
func encodeBody(text string) (encoding string, body []byte) {
	text = crlf(text)
	nonASCII := 0
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			nonASCII++
		}
	}
	var b bytes.Buffer
	if nonASCII*4 <= len(text) {
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(text))
		w.Close()
		return "quoted-printable", b.Bytes()
	}
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
	return "base64", b.Bytes()
}

// crlf makes every line end (LF, CR or CRLF) a CRLF, as RFC 5322 §2.3 wants.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

// encodeHeader encodes an unstructured header value (RFC 2047 §5(1)): unchanged when it is
// printable ASCII, else UTF-8 encoded-words, Q-encoded when mostly ASCII and B-encoded
// otherwise, folded between words so that lines stay short (RFC 5322 §2.2.3). Printable ASCII
// that a reader would take for an encoded-word ("=?"), or too long for one line, is B-encoded
// too.
func encodeHeader(s string) string {
	nonASCII := 0
	for _, r := range s {
		if r >= 0x80 {
			nonASCII++
		}
	}
	e := mime.BEncoding
	if nonASCII*4 <= utf8.RuneCountInString(s) {
		e = mime.QEncoding
	}
	enc := e.Encode("utf-8", s)
	if enc == s && (strings.Contains(s, "=?") || len(s) > 900) {
		enc = bEncode(s)
	}
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// bEncode writes s as B encoded-words of at most 75 characters, split between runes (RFC 2047
// §2, §5(3)), separated by spaces.
func bEncode(s string) string {
	var words []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > 45 { // 45 bytes are 60 base64 characters, 72 with "=?utf-8?b?" and "?="
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// isLanguageTag checks the shape of a BCP 47 tag (RFC 5646 §2.1): letters, digits and hyphens
// in subtags of one to eight, starting with letters.
func isLanguageTag(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i, sub := range strings.Split(s, "-") {
		if len(sub) == 0 || len(sub) > 8 {
			return false
		}
		for _, c := range sub {
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !alpha && !(i > 0 && c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}
