package voice

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/cap"
)

// needTools skips nothing: espeak-ng and sox are installed by scripts/test.sh; a machine
// without them fails here with the command that installs them.
func needTools(t testing.TB) *Renderer {
	t.Helper()
	r := &Renderer{}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return r
}

// soxInfo measures a WAV file with sox: duration in seconds, sample rate, channels, and the
// RMS amplitude (0 for silence, 1 for full scale).
func soxInfo(t testing.TB, wav []byte) (dur float64, rate, channels int, rms float64) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "m.wav")
	if err := os.WriteFile(f, wav, 0o600); err != nil {
		t.Fatal(err)
	}
	num := func(args ...string) float64 {
		out, err := exec.Command("sox", args...).Output()
		if err != nil {
			t.Fatalf("sox %v: %v", args, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if err != nil {
			t.Fatalf("sox %v: %q: %v", args, out, err)
		}
		return v
	}
	dur, rate, channels = num("--i", "-D", f), int(num("--i", "-r", f)), int(num("--i", "-c", f))
	out, err := exec.Command("sox", f, "-n", "stat").CombinedOutput() // stat writes to stderr
	if err != nil {
		t.Fatalf("sox stat: %v: %s", err, out)
	}
	m := regexp.MustCompile(`RMS\s+amplitude:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("sox stat: no RMS amplitude in %s", out)
	}
	rms, _ = strconv.ParseFloat(string(m[1]), 64)
	return
}

func info(lang, headline, instruction string) *cap.Info {
	return &cap.Info{Language: lang, Headline: headline, Instruction: instruction,
		Parameters: []cap.ValuePair{{ValueName: "rabta:rule", Value: "chenab-khanki"}, {ValueName: "rabta:level", Value: "Very High"}}}
}

// The warnings as the demo's rules word them (headline + instruction), one per language.
var messages = []*cap.Info{
	info("en", "Very High Flood warning: Khanki Headworks", "Move to higher ground now with your family and animals. Do not cross the river."),
	info("ur", "بہت اونچے درجے کے سیلاب کی وارننگ: ہیڈ خانکی", "فوراً اپنے خاندان اور مویشیوں کے ساتھ اونچی جگہ پر چلے جائیں۔ دریا پار نہ کریں۔"),
	info("zh", "特大洪水预警：坎基水利枢纽", "请立即带着家人和牲畜转移到高处。不要过河。"),
	info("sd", "تمام وڏي ٻوڏ جي خبرداري: هيڊ خانڪي", "فوري طور پنهنجي خاندان ۽ مال سان گڏ اوچي جاءِ تي هليا وڃو۔ درياهه پار نه ڪريو۔"),
	info("pnb", "بہت اُچے درجے دے ہڑ دی چتاونی: ہیڈ خانکی", "فوراً اپنے ٹبر تے ڈنگراں نال اُچی تھاں تے چلے جاؤ۔ دریا پار نہ کرو۔"),
}

// TestRender renders each language's warning and measures it with sox: 16 kHz mono, as long
// as the text takes to say (4 to 30 letters a second, 1.5 to 8 Chinese characters: a voice
// that skipped the text or spelled it letter by letter falls outside), and not silent.
func TestRender(t *testing.T) {
	r := needTools(t)
	for _, in := range messages {
		t.Run(in.Language, func(t *testing.T) {
			wav, err := r.Render(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			dur, rate, ch, rms := soxInfo(t, wav)
			chars := float64(utf8.RuneCountInString(Text(in)))
			t.Logf("%s: %d characters, %.2f s, %d bytes, RMS %.3f", in.Language, int(chars), dur, len(wav), rms)
			if rate != Rate || ch != 1 {
				t.Errorf("format %d Hz × %d channels, want %d Hz mono", rate, ch, Rate)
			}
			lo, hi := chars/30, chars/4 // letters
			if in.Language == "zh" {
				lo, hi = chars/8, chars/1.5 // a Chinese character is a syllable
			}
			if dur < lo || dur > hi {
				t.Errorf("duration %.2f s for %d characters: want %.1f–%.1f s", dur, int(chars), lo, hi)
			}
			if rms < 0.02 {
				t.Errorf("RMS amplitude %.4f: silent", rms)
			}
			again, err := r.Render(context.Background(), in)
			if err != nil || string(again) != string(wav) {
				t.Errorf("a second render differs (%v): the CAP digest would not hold", err)
			}
		})
	}
	t.Run("ps has no voice", func(t *testing.T) {
		_, err := r.Render(context.Background(), info("ps", "د سیلاب خبرتیا", "لوړ ځای ته لاړ شئ"))
		if !errors.Is(err, ErrNoVoice) {
			t.Fatalf("err %v, want ErrNoVoice", err)
		}
	})
	t.Run("headline starting with a dash is text", func(t *testing.T) {
		wav, err := r.Render(context.Background(), info("en", "-w /tmp/x --help", ""))
		if err != nil {
			t.Fatal(err)
		}
		if dur, _, _, _ := soxInfo(t, wav); dur < 0.5 {
			t.Fatalf("duration %.2f s: the text was not spoken", dur)
		}
	})
}

// TestRecordedSet renders with a recorded-voice template set. The clips here are SYNTHETIC,
// made in the test (an intro chime by sox synth, a Pashto level message by espeak-ng's Urdu
// voice, standing in for a person's recording), and in other formats than the output (8 kHz
// stereo, 22 kHz) to prove the conversion: English gets the chime before its spoken text,
// Pashto — which espeak-ng cannot speak — gets its level's clip.
func TestRecordedSet(t *testing.T) {
	r := needTools(t)
	dir := t.TempDir()
	for _, d := range []string{"en", "ps/levels"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
	}
	run("sox", "-n", "-r", "8000", "-c", "2", filepath.Join(dir, "en", "intro.wav"), "synth", "0.5", "sine", "880", "vol", "0.5")
	run("espeak-ng", "-v", "ur", "-w", filepath.Join(dir, "ps", "levels", "very-high.wav"), "سیلاب، فوراً اونچی جگہ پر جائیں")
	plain, err := r.Render(context.Background(), messages[0])
	if err != nil {
		t.Fatal(err)
	}
	withSet := &Renderer{Clips: dir}
	framed, err := withSet.Render(context.Background(), messages[0])
	if err != nil {
		t.Fatal(err)
	}
	d0, _, _, _ := soxInfo(t, plain)
	d1, rate, ch, _ := soxInfo(t, framed)
	if rate != Rate || ch != 1 || d1-d0 < 0.45 || d1-d0 > 0.55 {
		t.Errorf("with the intro: %.2f s at %d Hz × %d, want %.2f s + 0.5 s at %d Hz mono", d1, rate, ch, d0, Rate)
	}
	ps, err := withSet.Render(context.Background(), info("ps", "د سیلاب خبرتیا", "لوړ ځای ته لاړ شئ"))
	if err != nil {
		t.Fatal(err)
	}
	clip, _ := os.ReadFile(filepath.Join(dir, "ps", "levels", "very-high.wav"))
	dc, _, _, _ := soxInfo(t, clip)
	dp, _, _, rms := soxInfo(t, ps)
	if dp < dc-0.01 || dp > dc+0.01 || rms < 0.02 {
		t.Errorf("Pashto from its clip: %.3f s RMS %.3f, want the clip's %.3f s, not silent", dp, rms, dc)
	}
	if _, err := withSet.Render(context.Background(), &cap.Info{Language: "ps", Headline: "x",
		Parameters: []cap.ValuePair{{ValueName: "rabta:level", Value: "Low"}}}); !errors.Is(err, ErrNoVoice) {
		t.Errorf("Pashto at a level with no clip: %v, want ErrNoVoice", err)
	}
}

// TestAttach attaches the audio of a trilingual message, builds it and validates it against
// the OASIS CAP 1.2 schema with xmllint; each resource's size and digest are the stored
// file's, and a Cancel made from the message gets its own audio, not the warning's.
func TestAttach(t *testing.T) {
	r := needTools(t)
	s := &Service{Renderer: r, Files: Files{Dir: t.TempDir()}, BaseURL: "https://alerts.example.org/"}
	now := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	a := &cap.Alert{Identifier: "rabta-pdma-7-1", Sender: "pdma.punjab.gov.pk", Sent: now, Status: cap.StatusActual, MsgType: cap.MsgAlert, Scope: "Public"}
	for _, in := range messages[:3] {
		x := *in
		x.Categories, x.Event, x.Urgency, x.Severity, x.Certainty = []cap.Category{"Met"}, "Flood", "Immediate", "Severe", "Observed"
		x.Areas = []cap.Area{{AreaDesc: "Gujranwala", Circles: []cap.Circle{{Center: cap.Point{Lat: 32.4, Lon: 73.97}, RadiusKM: 25}}}}
		a.Infos = append(a.Infos, x)
	}
	start := time.Now()
	s.Attach(context.Background(), a)
	t.Logf("attached 3 languages in %v", time.Since(start))
	for _, in := range a.Infos {
		if len(in.Resources) != 1 {
			t.Fatalf("%s: %d resources, want 1", in.Language, len(in.Resources))
		}
		res := in.Resources[0]
		b, err := s.Files.Get(a.Identifier, in.Language)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha1.Sum(b)
		if res.Digest != hex.EncodeToString(sum[:]) || *res.Size != int64(len(b)) || res.MimeType != "audio/wav" || res.ResourceDesc != "audio message" ||
			res.URI != "https://alerts.example.org/cap/alerts/rabta-pdma-7-1/audio/"+in.Language+".wav" {
			t.Errorf("%s: resource %+v (size %d) does not describe the stored %d bytes", in.Language, res, *res.Size, len(b))
		}
	}
	xml, _, err := cap.Builder{Now: func() time.Time { return now }}.Build(a)
	if err != nil {
		t.Fatal(err)
	}
	xmllint(t, xml)
	if !strings.Contains(string(xml), "<mimeType>audio/wav</mimeType>") {
		t.Fatal("no audio resource in the XML")
	}
	back, err := cap.Unmarshal(xml)
	if err != nil || len(back.Infos[1].Resources) != 1 {
		t.Fatalf("decode: %v", err)
	}
	// a Cancel made from the issued message: its audio replaces the warning's
	c := *back
	c.Infos = append([]cap.Info(nil), back.Infos...)
	c.Identifier, c.MsgType = "rabta-pdma-7-2", cap.MsgCancel
	c.Infos[0].Headline = "All clear: Flood warning for Khanki Headworks ended"
	s.Attach(context.Background(), &c)
	if n := len(c.Infos[0].Resources); n != 1 || !strings.Contains(c.Infos[0].Resources[0].URI, "rabta-pdma-7-2") || c.Infos[0].Resources[0].Digest == back.Infos[0].Resources[0].Digest {
		t.Errorf("Cancel's resources: %+v", c.Infos[0].Resources)
	}
}

func xmllint(t *testing.T, xml []byte) {
	t.Helper()
	dir := t.TempDir()
	xsd, doc := filepath.Join(dir, "cap.xsd"), filepath.Join(dir, "alert.xml")
	os.WriteFile(xsd, cap.Schema, 0o600)
	os.WriteFile(doc, xml, 0o600)
	if out, err := exec.Command("xmllint", "--noout", "--schema", xsd, doc).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v: %s\n%s", err, out, xml)
	}
}

// BenchmarkRender is the render time of one alert message per language (espeak-ng, then sox
// to 16 kHz mono); its size is reported as bytes/msg.
func BenchmarkRender(b *testing.B) {
	r := needTools(b)
	for _, in := range messages {
		b.Run(in.Language, func(b *testing.B) {
			var n int
			for b.Loop() {
				wav, err := r.Render(context.Background(), in)
				if err != nil {
					b.Fatal(err)
				}
				n = len(wav)
			}
			b.ReportMetric(float64(n), "bytes/msg")
		})
	}
}

// BenchmarkAttach is what audio adds to issuing an alert in all five languages espeak-ng
// speaks here (rendered two at a time, kept, resources added): the delay before signing.
func BenchmarkAttach(b *testing.B) {
	r := needTools(b)
	s := &Service{Renderer: r, Files: Files{Dir: b.TempDir()}, BaseURL: "https://alerts.example.org"}
	i := 0
	for b.Loop() {
		i++
		a := &cap.Alert{Identifier: "bench-" + strconv.Itoa(i)}
		for _, in := range messages {
			a.Infos = append(a.Infos, *in)
		}
		s.Attach(context.Background(), a)
		for _, in := range a.Infos {
			if len(in.Resources) != 1 {
				b.Fatalf("%s: no audio", in.Language)
			}
		}
	}
}

// TestAudioOnce: eight requests at once for a message not yet kept render it once, and all
// get the same bytes; a new Service on the same files renders nothing (idempotent).
func TestAudioOnce(t *testing.T) {
	r := needTools(t)
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))
	files := Files{Dir: t.TempDir()}
	s := &Service{Renderer: r, Files: files, Log: log}
	got := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			b, err := s.Audio(context.Background(), "rabta-x-1-1", messages[0])
			if err != nil {
				t.Error(err)
			}
			got[i] = b
		})
	}
	wg.Wait()
	s2 := &Service{Renderer: &Renderer{Espeak: "/nonexistent/espeak-ng"}, Files: files, Log: log}
	again, err := s2.Audio(context.Background(), "rabta-x-1-1", messages[0])
	if err != nil || string(again) != string(got[0]) {
		t.Fatalf("kept file not reused: %v", err)
	}
	for _, b := range got[1:] {
		if string(b) != string(got[0]) {
			t.Fatal("requests got different audio")
		}
	}
	if n := strings.Count(logs.String(), "audio_rendered"); n != 1 {
		t.Errorf("rendered %d times, want once", n)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
