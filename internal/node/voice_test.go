package node_test

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel/ivr"
	"github.com/rabta/rabta/internal/node"
)

// ivrGateway stands in for an IVR / robocall gateway's HTTP interface (the true edge: a
// telephone network): it checks the token and records every call request.
type ivrGateway struct {
	mu    sync.Mutex
	calls []ivr.Request
	auth  []string
}

func (g *ivrGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req ivr.Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.auth = append(g.auth, r.Header.Get("Authorization"))
	g.calls = append(g.calls, req)
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"id":"call-`+strconv.Itoa(len(g.calls))+`"}`)
}

func (g *ivrGateway) requests() ([]ivr.Request, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]ivr.Request(nil), g.calls...), append([]string(nil), g.auth...)
}

// An alert issued for Lahore carries, in its signed CAP message, one audio <resource> per
// language (size and SHA-1 of the file served at its URI; the XML valid against the OASIS
// schema); subscribers with a voice contact in the area get a call request at the IVR
// gateway with their language's audio URL; the audio served there is 16 kHz mono speech as
// long as its text, served with Content-Length, ETag and byte ranges; the gateway's call
// reports, each with its call's token, mark the deliveries delivered or failed; no phone
// number is logged.
func TestVoiceAlerts(t *testing.T) {
	t.Parallel()
	gw := &ivrGateway{}
	stand := httptest.NewServer(gw)
	t.Cleanup(stand.Close)
	logs := &syncBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node log:\n%s", logs.String())
		}
	})
	n, err := node.New(t.Context(), node.Options{ID: "lahore", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminKey: adminKey,
		Dissemination: node.DisseminationOptions{IVR: &ivr.Options{URL: stand.URL + "/calls", Token: "ivr-gateway-token-0123456789"}},
		Log:           slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, b := do(t, n, "POST", "/v1.1/Things", ravi); st != 201 {
		t.Fatalf("thing: %d %s", st, b)
	}
	if st, b := do(t, n, "PUT", "/api/v1/rules", lahoreRule); st != 200 {
		t.Fatalf("rules: %d %s", st, b)
	}
	for _, s := range []string{
		`{"name":"Ayesha","language":"ur","place":"district:Lahore","contacts":[{"channel":"voice","address":"0300 1234567"}],"consent":{"source":"test"}}`,
		`{"name":"Bilal","language":"en","place":"district:Lahore","contacts":[{"channel":"voice","address":"+923011234567"}],"consent":{"source":"test"}}`,
		`{"name":"Chen","language":"zh","place":"district:Karachi South","contacts":[{"channel":"voice","address":"+923021234567"}],"consent":{"source":"test"}}`,
	} {
		if st, b := do(t, n, "POST", "/api/v1/subscribers", s); st != 201 {
			t.Fatalf("subscriber: %d %s", st, b)
		}
	}
	if st, b := do(t, n, "POST", "/api/v1/subscribers", `{"name":"X","language":"ur","place":"district:Lahore","contacts":[{"channel":"voice","address":"12"}],"consent":{"source":"t"}}`); st != 400 || !strings.Contains(b, "contacts[0]") {
		t.Fatalf("a bad number for a voice contact: %d %s", st, b)
	}
	if st, b := do(t, n, "POST", "/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T06:00:00Z","result":2500}`); st != 201 {
		t.Fatalf("observation: %d %s", st, b)
	}
	waitFor(t, "two calls", 30*time.Second, func() bool { c, _ := gw.requests(); return len(c) >= 2 })
	time.Sleep(200 * time.Millisecond)
	calls, auths := gw.requests()
	if len(calls) != 2 {
		t.Fatalf("%d calls, want 2 (Karachi is not warned): %+v", len(calls), calls)
	}
	byTo := map[string]ivr.Request{}
	for i, c := range calls {
		byTo[c.To] = c
		if auths[i] != "Bearer ivr-gateway-token-0123456789" {
			t.Errorf("call %d: Authorization %q", i, auths[i])
		}
	}
	ur, en := byTo["+923001234567"], byTo["+923011234567"]
	if ur.Language != "ur" || en.Language != "en" || ur.Alert == "" || ur.Delivery == 0 {
		t.Fatalf("calls: %+v", calls)
	}
	// the signed CAP message carries the audio of each language
	st, xml := get(t, n, "/cap/alerts/"+ur.Alert+".xml", nil)
	if st != 200 {
		t.Fatalf("CAP: %d", st)
	}
	capValid(t, []byte(xml))
	msg, err := cap.Unmarshal([]byte(xml))
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]cap.Resource{}
	for _, in := range msg.Infos {
		if len(in.Resources) != 1 {
			t.Fatalf("%s: %d resources", in.Language, len(in.Resources))
		}
		res[in.Language] = in.Resources[0]
	}
	for lang, c := range map[string]ivr.Request{"ur": ur, "en": en} {
		r := res[lang]
		if r.URI != c.Audio || r.MimeType != "audio/wav" || r.ResourceDesc != "audio message" {
			t.Errorf("%s: the call plays %s; the CAP resource is %+v", lang, c.Audio, r)
		}
		resp, err := http.Get(c.Audio) // anonymous, as a gateway fetches it
		if err != nil {
			t.Fatal(err)
		}
		wav, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha1.Sum(wav)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || resp.Header.Get("Content-Length") != strconv.Itoa(len(wav)) ||
			resp.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Fatalf("%s audio: %d %v", lang, resp.StatusCode, resp.Header)
		}
		if r.Digest != hex.EncodeToString(sum[:]) || *r.Size != int64(len(wav)) {
			t.Errorf("%s: CAP says %d bytes SHA-1 %s; served %d bytes SHA-1 %x", lang, *r.Size, r.Digest, len(wav), sum)
		}
		dur, rms := soxMeasure(t, wav)
		t.Logf("%s: %d bytes, %.2f s, RMS %.3f", lang, len(wav), dur, rms)
		if dur < 1 || dur > 15 || rms < 0.02 {
			t.Errorf("%s audio: %.2f s, RMS %.3f: not the spoken warning", lang, dur, rms)
		}
	}
	// a byte range: the WAV header
	st, head := get(t, n, strings.TrimPrefix(ur.Audio, "http://"+n.Addr().String()), map[string]string{"Range": "bytes=0-43"})
	if st != 206 || len(head) != 44 || !strings.HasPrefix(head, "RIFF") {
		t.Errorf("range: %d, %d bytes %.4q", st, len(head), head)
	}
	base := "/cap/alerts/" + ur.Alert + "/audio/"
	if st, b := get(t, n, base+"zh.wav", nil); st != 404 || !strings.Contains(b, "en, ur") {
		t.Errorf("a language the message lacks: %d %s", st, b)
	}
	if st, b := get(t, n, base+"ur.mp3", nil); st != 400 || !strings.Contains(b, "ur.mp3") {
		t.Errorf("not a .wav: %d %s", st, b)
	}
	if st, _ := get(t, n, "/cap/alerts/no-such-alert/audio/ur.wav", nil); st != 404 {
		t.Errorf("an unknown alert: %d", st)
	}
	// the gateway reports: Ayesha answered, Bilal's line was busy; a forged token is refused
	report := func(url, body string) int {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if !strings.HasPrefix(ur.Callback, "http://"+n.Addr().String()+"/voice/ivr/report?token=") {
		t.Fatalf("callback %q", ur.Callback)
	}
	if c := report(ur.Callback, `{"delivery":`+strconv.FormatInt(en.Delivery, 10)+`,"status":"answered"}`); c != 403 {
		t.Errorf("a report for another call with this call's token: %d", c)
	}
	if c := report(ur.Callback, `{"delivery":`+strconv.FormatInt(ur.Delivery, 10)+`,"status":"answered","id":"call-1"}`); c != 200 {
		t.Errorf("report: %d", c)
	}
	if c := report(en.Callback, `{"delivery":`+strconv.FormatInt(en.Delivery, 10)+`,"status":"busy"}`); c != 200 {
		t.Errorf("report: %d", c)
	}
	waitFor(t, "the call reports", 10*time.Second, func() bool {
		_, b := do(t, n, "GET", "/api/v1/alerts/1/deliveries", "")
		var prog struct {
			Counts []struct{ Channel, State string }
		}
		json.Unmarshal([]byte(b), &prog)
		var delivered, failed bool
		for _, c := range prog.Counts {
			delivered = delivered || c.Channel == "voice" && c.State == "delivered"
			failed = failed || c.Channel == "voice" && c.State == "failed"
		}
		return delivered && failed
	})
	if strings.Contains(logs.String(), "1234567") {
		t.Error("a phone number is in the log")
	}
}

// get fetches path anonymously with the given headers.
func get(t *testing.T, n *node.Node, path string, h map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+n.Addr().String()+path, nil)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// soxMeasure returns a WAV's duration in seconds and its RMS amplitude, measured by sox.
func soxMeasure(t *testing.T, wav []byte) (dur, rms float64) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "a.wav")
	os.WriteFile(f, wav, 0o600)
	out, err := exec.Command("sox", "--i", "-D", f).Output()
	if err != nil {
		t.Fatalf("sox --i: %v", err)
	}
	dur, _ = strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	out, err = exec.Command("sox", f, "-n", "stat").CombinedOutput()
	if err != nil {
		t.Fatalf("sox stat: %v: %s", err, out)
	}
	if m := regexp.MustCompile(`RMS\s+amplitude:\s+([0-9.]+)`).FindSubmatch(out); m != nil {
		rms, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return dur, rms
}

// capValid validates CAP XML against the OASIS CAP 1.2 schema with xmllint.
func capValid(t *testing.T, xml []byte) {
	t.Helper()
	dir := t.TempDir()
	xsd, doc := filepath.Join(dir, "cap.xsd"), filepath.Join(dir, "alert.xml")
	os.WriteFile(xsd, cap.Schema, 0o600)
	os.WriteFile(doc, xml, 0o600)
	if out, err := exec.Command("xmllint", "--noout", "--schema", xsd, doc).CombinedOutput(); err != nil {
		t.Fatalf("xmllint: %v: %s", err, out)
	}
}
