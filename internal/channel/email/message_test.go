package email

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/channel"
)

// readBack parses a composed message as a mail client would: headers with net/mail, the body
// with mime/multipart, transfer encodings undone.
func readBack(t *testing.T, data []byte) (subject string, h mail.Header, parts map[string]string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, data)
	}
	var dec mime.WordDecoder
	subject, err = dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	parts = map[string]string{}
	decode := func(cte string, r io.Reader) string {
		if strings.EqualFold(cte, "base64") {
			r = base64.NewDecoder(base64.StdEncoding, r)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		return string(b)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mt != "multipart/alternative" {
		cte := msg.Header.Get("Content-Transfer-Encoding")
		r := io.Reader(msg.Body)
		if strings.EqualFold(cte, "quoted-printable") {
			r = quotedprintable.NewReader(msg.Body)
		}
		parts[mt] = decode(cte, r)
		return subject, msg.Header, parts
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = decode(p.Header.Get("Content-Transfer-Encoding"), p)
	}
	return subject, msg.Header, parts
}

func FuzzCompose(f *testing.F) {
	f.Add("سیلاب کی وارننگ", "دریائے چناب\nمحفوظ مقام", "<p>洪水预警</p>", "ur")
	f.Add("Flood warning: Chenab at Qadirabad", "Water rising.\r\nMove to safety.", "", "en")
	f.Add("=?utf-8?q?looks_encoded?=", "a=b\r.\n", "<b>x</b>", "zh-Hans")
	f.Add(strings.Repeat("洪水", 100), strings.Repeat("x ", 600), "", "pa-Arab-PK")
	f.Add("a\r\nBcc: evil@example.org", "\x00\t trailing  \n", "\n", "sd")
	from := &mail.Address{Name: "Rabta", Address: "warnings@rabta.example"}
	now := time.Date(2026, 7, 14, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, subject, text, html, lang string) {
		m := channel.Message{DeliveryID: 7, Subject: subject, Text: text, HTML: html, Language: lang,
			UnsubscribeURL: "https://rabta.example/u?t=1"}
		data, err := compose(m, from, "a@example.org", "<rabta.delivery.7@rabta.example>", now)
		if err != nil {
			if valid(subject, text, html) && (text != "" || html != "") && isLanguageTag(lang) {
				t.Fatalf("compose refused a good message: %v", err)
			}
			return
		}
		if !utf8.ValidString(subject + text + html) {
			t.Fatal("compose accepted invalid UTF-8")
		}
		for _, line := range bytes.Split(data, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("line of %d octets (RFC 5322 §2.1.1 allows 998)", len(line))
			}
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("bare CR or LF in %q", line)
			}
		}
		got, h, parts := readBack(t, data)
		if got != subject && got != strings.TrimSpace(subject) {
			t.Errorf("subject %q came back as %q", subject, got)
		}
		// Nothing in the subject, text or language turned into a header of its own.
		want := map[string]bool{"Date": true, "From": true, "To": true, "Subject": true, "Message-Id": true,
			"Mime-Version": true, "Content-Language": lang != "", "Auto-Submitted": true, "List-Unsubscribe": true,
			"List-Unsubscribe-Post": true, "Content-Type": true, "Content-Transfer-Encoding": html == ""}
		for k := range h {
			if !want[k] {
				t.Errorf("unexpected header %s: %q", k, h[k])
			}
		}
		if html == "" {
			if parts["text/plain"] != crlf(text) {
				t.Errorf("text %q came back as %q", text, parts["text/plain"])
			}
			return
		}
		if parts["text/plain"] != crlf(text) || parts["text/html"] != crlf(html) {
			t.Errorf("parts %q, %q came back as %q", text, html, parts)
		}
	})
}

func valid(s ...string) bool {
	for _, x := range s {
		if !utf8.ValidString(x) {
			return false
		}
	}
	return true
}

func FuzzQueueID(f *testing.F) {
	f.Add("2.0.0 Ok: queued as 4AbC12")
	f.Add("OK: queued")
	f.Add("queued as ")
	f.Add("Queued as <x.y>;")
	f.Fuzz(func(t *testing.T, reply string) {
		id := queueID(reply)
		if strings.ContainsAny(id, " \t\r\n") || len(id) > len(reply) {
			t.Fatalf("queueID(%q) = %q", reply, id)
		}
	})
}

func TestQueueID(t *testing.T) {
	for reply, want := range map[string]string{
		"2.0.0 Ok: queued as 4AbC12":     "4AbC12",
		"2.0.0 OK: queued":               "",
		"Ok: Queued as <abc@host>; done": "abc@host",
		"":                               "",
	} {
		if got := queueID(reply); got != want {
			t.Errorf("queueID(%q) = %q, want %q", reply, got, want)
		}
	}
}
