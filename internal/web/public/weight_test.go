package public

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/cap"
)

// A heavy index page — MaxAlerts warnings, each with a headline of 80 letters, an area of 80
// and an instruction of 400, random words in the page's script (so that gzip finds little to
// share between them) — still fits the 50 KB budget compressed, with 1 KB left for the headers. (The
// browser test measures real first loads on the wire; this holds the worst case.)
func TestWeightAtMaxAlerts(t *testing.T) {
	s := &Server{}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 8, 27, 12, 0, 0, 0, time.UTC)
	for _, lang := range Langs {
		r := httptest.NewRequest("GET", "/?lang="+lang, nil)
		d := s.page(r, lang, "/")
		for i := range MaxAlerts {
			a := &cap.Alert{Identifier: fmt.Sprintf("urn:oid:2.49.0.1.586.0.%d", i), Sent: now, Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: cap.ScopePublic}
			for _, l := range []string{"ur", "en", "zh"} {
				a.Infos = append(a.Infos, cap.Info{Language: l, Event: "Flood", Severity: cap.SeveritySevere, Onset: now, Expires: now.Add(6 * time.Hour),
					Headline: randomText(rng, l, 80), Instruction: randomText(rng, l, 400), Areas: []cap.Area{{AreaDesc: randomText(rng, l, 80)}}})
			}
			d.Alerts = append(d.Alerts, s.view(&entry{msg: alert.Message{AlertID: int64(1000 + i), Identifier: a.Identifier}, cap: a}, lang, false))
		}
		var plain, z bytes.Buffer
		if err := pageTmpl.Execute(&plain, d); err != nil {
			t.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(plain.Bytes())
		zw.Close()
		t.Logf("%s: %d warnings, %d bytes, %d gzip-compressed", lang, MaxAlerts, plain.Len(), z.Len())
		if z.Len() > 49_000 {
			t.Errorf("%s: %d bytes compressed with %d warnings: over the budget", lang, z.Len(), MaxAlerts)
		}
	}
}

// randomText is n letters of random words in the script of lang.
func randomText(rng *rand.Rand, lang string, n int) string {
	letters := map[string][]rune{"ur": []rune("ابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنوہھءیے"), "en": []rune("abcdefghijklmnopqrstuvwxyz"),
		"zh": []rune("洪水警报河岸人员牲畜转移地区请将出流量上涨至测得于站点下游区域高中低级预警生效")}[lang]
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 && rng.IntN(6) == 0 && lang != "zh" {
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(letters[rng.IntN(len(letters))])
	}
	return b.String()
}

// An alert page links each spoken message of the <info> shown (voice's CAP <resource>s) and
// nothing that is not an http(s) URL or a path.
func TestAudioLinks(t *testing.T) {
	a := &cap.Alert{Identifier: "urn:x:1", Status: cap.StatusActual, Scope: cap.ScopePublic, Infos: []cap.Info{
		{Language: "en", Headline: "h", Resources: []cap.Resource{
			{ResourceDesc: "audio message", MimeType: "audio/wav", URI: "http://node.example/cap/alerts/urn%3Ax%3A1/audio/en.wav"},
			{ResourceDesc: "audio message", MimeType: "audio/wav", URI: "javascript:alert(1)"},
			{ResourceDesc: "map", MimeType: "image/png", URI: "http://node.example/map.png"}}},
		{Language: "ur", Headline: "ح", Resources: []cap.Resource{{MimeType: "audio/wav", URI: "http://node.example/cap/alerts/urn%3Ax%3A1/audio/ur.wav"}}}}}
	v := (&Server{}).view(&entry{msg: alert.Message{AlertID: 1, Identifier: a.Identifier}, cap: a}, "en", true)
	if fmt.Sprint(v.Audio) != "[{http://node.example/cap/alerts/urn%3Ax%3A1/audio/en.wav audio/wav}]" {
		t.Errorf("audio links %v", v.Audio)
	}
	d := &pageData{Lang: "en", HTMLLang: "en", Dir: "ltr", W: texts["en"], Alert: &v}
	var b bytes.Buffer
	if err := pageTmpl.Execute(&b, d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<a href="http://node.example/cap/alerts/urn%3Ax%3A1/audio/en.wav" type="audio/wav">Listen</a>`) || strings.Contains(b.String(), "javascript:") {
		t.Errorf("page:\n%s", b.String())
	}
}
