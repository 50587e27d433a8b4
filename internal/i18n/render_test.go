package i18n_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/sms"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// demoAlert is testdata/demo_alert.xml: the message alert.Service issued for the demo rule
// flood-qadirabad at Exceptionally High (935,722 cusecs, 27 August 2025 13:00 PKT), status
// Exercise, with the demo's names — six infos, each wholly in its language.
func demoAlert(t testing.TB) *cap.Alert {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "demo_alert.xml"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := cap.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/i18n -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/i18n -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

const (
	link        = "https://rabta.example.pk/a/1"
	capURL      = "https://rabta.example.pk/api/v1/cap/rabta-test-1-1.xml"
	unsubscribe = "https://rabta.example.pk/u/3f9c2a"
)

// Every language × channel against its golden file; right to left where the script is.
func TestGolden(t *testing.T) {
	a := demoAlert(t)
	langs := map[string]bool{}
	for i := range a.Infos {
		in := &a.Infos[i]
		langs[in.Language] = true
		t.Run(in.Language, func(t *testing.T) {
			text, plan := i18n.RenderSMS(a, in, link)
			golden(t, in.Language+".sms", []byte(fmt.Sprintf("%s\n-- %s, %d units, %d part(s)\n", text, plan.Coding, plan.Units, plan.Parts)))

			m, err := i18n.RenderEmail(a, in, i18n.EmailOptions{Zone: karachi, CAP: capURL, Unsubscribe: unsubscribe})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, in.Language+".email.txt", []byte("Subject: "+m.Subject+"\nContent-Language: "+m.Lang+"\n\n"+m.Text))
			golden(t, in.Language+".email.html", []byte(m.HTML))

			dir := i18n.For(in.Language).Dir()
			if want := fmt.Sprintf(`<html lang="%s" dir="%s">`, in.Language, dir); !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks %s", want)
			}
			if want := fmt.Sprintf(`<body dir="%s"`, dir); !strings.Contains(m.HTML, want) {
				t.Errorf("HTML lacks %s", want)
			}
			if rtl := in.Language == "ur" || in.Language == "sd" || in.Language == "ps" || in.Language == "pnb"; rtl != (dir == "rtl") || m.Dir != dir {
				t.Errorf("dir %q (e-mail %q) for %s", dir, m.Dir, in.Language)
			}
			for _, s := range []string{capURL, unsubscribe, in.Headline} {
				if !strings.Contains(m.Text, s) || !strings.Contains(m.HTML, s) {
					t.Errorf("e-mail lacks %q", s)
				}
			}
		})
	}
	for _, tag := range i18n.Langs() {
		if !langs[tag] {
			t.Errorf("the demo alert has no %s info", tag)
		}
	}
	b, err := i18n.RenderWebhook(a, capURL)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "webhook.json", b)
	var p i18n.Payload
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.Identifier != a.Identifier || p.MsgType != "Alert" || p.Status != "Exercise" || len(p.Infos) != 6 || p.Infos[4].Dir != "rtl" {
		t.Errorf("payload %+v", p)
	}
}

// The SMS budget: at most 2 UCS-2 or 3 GSM-7 parts, the instruction cut first, the mark and
// the link never.
func TestSMSBudget(t *testing.T) {
	a := demoAlert(t)
	long := strings.Repeat("Move people and livestock to higher ground now. ", 20)
	for i := range a.Infos {
		in := a.Infos[i]
		in.Instruction = strings.Repeat(in.Instruction+" ", 6)
		if in.Language == "en" {
			in.Instruction = long
		}
		text, plan := i18n.RenderSMS(a, &in, link)
		max := i18n.SMSMaxPartsUCS2
		if plan.Coding == sms.GSM7 {
			max = i18n.SMSMaxPartsGSM7
		}
		if plan.Parts > max || plan != sms.Analyze(text) {
			t.Errorf("%s: %d parts (%s), want at most %d: %q", in.Language, plan.Parts, plan.Coding, max, text)
		}
		if !strings.HasSuffix(text, " "+link) || !strings.Contains(text, in.Headline) {
			t.Errorf("%s: link or headline lost: %q", in.Language, text)
		}
		if in.Language == "en" && (plan.Coding != sms.GSM7 || !strings.Contains(text, "...")) {
			t.Errorf("en: %s, %q: want GSM-7 with a GSM ellipsis", plan.Coding, text)
		}
		if in.Language == "ur" && !strings.HasPrefix(text, "مشق: ") {
			t.Errorf("ur: exercise mark missing: %q", text)
		}
	}
	// A headline too long for the budget on its own is cut, the link kept.
	in := a.Infos[0]
	in.Headline, in.Instruction = strings.Repeat("Flood ", 100), ""
	text, plan := i18n.RenderSMS(a, &in, link)
	if plan.Parts > i18n.SMSMaxPartsGSM7 || !strings.HasSuffix(text, link) {
		t.Errorf("long headline: %d parts: %q", plan.Parts, text)
	}
}

// A Cancel's subject says so; an Actual alert carries no exercise mark.
func TestEmailKinds(t *testing.T) {
	a := demoAlert(t)
	a.MsgType, a.Status = cap.MsgCancel, cap.StatusActual
	for i, want := range map[int]string{0: "Cancelled: ", 4: "منسوخ: "} {
		in := a.Infos[i]
		m, err := i18n.RenderEmail(a, &in, i18n.EmailOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Subject, want) || strings.Contains(m.Text, i18n.For(in.Language).Text(i18n.LabelNotReal)) {
			t.Errorf("%s subject %q / text %q", in.Language, m.Subject, m.Text)
		}
		if !strings.Contains(m.Text, "https://rabta.example.pk/alerts") {
			t.Errorf("%s: the info's <web> should stand in for the page", in.Language)
		}
	}
	text, _ := i18n.RenderSMS(a, &a.Infos[0], "")
	if strings.Contains(text, "EXERCISE") || strings.HasSuffix(text, " ") {
		t.Errorf("actual SMS %q", text)
	}
}

// Choosing the info for a subscriber, over the demo alert's six.
func TestChooseInfo(t *testing.T) {
	a := demoAlert(t)
	var tags []string
	for _, in := range a.Infos {
		tags = append(tags, in.Language)
	}
	if i18n.ChooseInfo("ur", &cap.Alert{}) != nil {
		t.Error("ChooseInfo on an alert without infos")
	}
	for pref, want := range map[string]string{"sd": "sd", "pa-Arab-PK": "pnb", "ar": "ur", "": "en", "zh-CN": "zh"} {
		if i := i18n.Choose(pref, tags); i < 0 || tags[i] != want {
			t.Errorf("Choose(%q) = %d, want %s", pref, i, want)
		}
		if in := i18n.ChooseInfo(pref, a); in == nil || in.Language != want {
			t.Errorf("ChooseInfo(%q) = %v, want %s", pref, in, want)
		}
	}
}

func BenchmarkRenderSMS(b *testing.B) {
	a := demoAlert(b)
	for b.Loop() {
		for i := range a.Infos {
			i18n.RenderSMS(a, &a.Infos[i], link)
		}
	}
}

func BenchmarkRenderEmail(b *testing.B) {
	a := demoAlert(b)
	o := i18n.EmailOptions{Zone: karachi, CAP: capURL, Unsubscribe: unsubscribe}
	for b.Loop() {
		for i := range a.Infos {
			if _, err := i18n.RenderEmail(a, &a.Infos[i], o); err != nil {
				b.Fatal(err)
			}
		}
	}
}
