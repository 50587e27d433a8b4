package public_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// get fetches path with header pairs, without the client's transparent gzip.
func (f *fixture) get(t *testing.T, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return resp, string(b)
}

var articleRE = regexp.MustCompile(`(?s)<article[^>]*>.*?</article>`)

// headlines returns the English headlines of the rules whose warnings the page lists, in order.
func shown(page string) []string {
	var out []string
	for _, a := range articleRE.FindAllString(page, -1) {
		for _, r := range fixtureRules {
			if strings.Contains(a, ": "+r.id+"<") || strings.Contains(a, "："+r.id+"<") {
				out = append(out, r.id)
			}
		}
	}
	return out
}

func TestPublicPage(t *testing.T) {
	f := newFixture(t)
	ok := func(t *testing.T, path string, header ...string) (*http.Response, string) {
		t.Helper()
		resp, b := f.get(t, path, header...)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
		}
		return resp, b
	}

	t.Run("only public warnings in force", func(t *testing.T) {
		_, b := ok(t, "/?lang=en")
		if got := fmt.Sprint(shown(b)); got != "[ravi chenab]" {
			t.Errorf("listed %s, want [ravi chenab] (the severe first; no exercise, draft, operational or cancelled warning)", got)
		}
		for _, leak := range []string{"drill", "waiting", "ops", "over", "All clear", "Exercise"} {
			if strings.Contains(b, leak) {
				t.Errorf("the page shows %q", leak)
			}
		}
		if !strings.Contains(b, "Move people and livestock away from the river banks.") || !strings.Contains(b, "What to do") {
			t.Errorf("no instruction under its heading:\n%s", b)
		}
	})

	t.Run("language", func(t *testing.T) {
		for _, c := range []struct{ path, accept, lang, dir, text string }{
			{"/", "", `lang="en"`, `dir="ltr"`, "High flood: ravi"},
			{"/", "ur-PK,ur;q=0.9,en;q=0.5", `lang="ur"`, `dir="rtl"`, "درجے کا سیلاب: ravi"},
			{"/", "zh-CN,zh;q=0.9", `lang="zh-Hans"`, `dir="ltr"`, "洪水：ravi"},
			{"/", "fr-FR", `lang="en"`, `dir="ltr"`, "High flood: ravi"},
			{"/?lang=ur", "en-GB", `lang="ur"`, `dir="rtl"`, "لوگوں اور مویشیوں کو دریا کے کناروں سے دور لے جائیں۔"},
			{"/?lang=zh", "ur", `lang="zh-Hans"`, `dir="ltr"`, "请将人员和牲畜转移出河岸地区。"},
			{"/?lang=en", "ur", `lang="en"`, `dir="ltr"`, "All warnings in force"},
		} {
			resp, b := ok(t, c.path, "Accept-Language", c.accept)
			if !strings.Contains(b, "<html "+c.lang+" "+c.dir+">") || !strings.Contains(b, c.text) {
				t.Errorf("%s with Accept-Language %q: want <html %s %s> and %q:\n%.600s", c.path, c.accept, c.lang, c.dir, c.text, b)
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Accept-Language") {
				t.Errorf("%s: Vary %q", c.path, resp.Header.Get("Vary"))
			}
		}
		// the switch: links to each language, keeping the search, no cookie
		resp, b := ok(t, "/?q=Lahore&lang=en")
		for _, l := range []string{`href="/?lang=ur&amp;q=Lahore"`, `href="/?lang=zh&amp;q=Lahore"`, `lang="ur" dir="rtl" hreflang="ur">اردو`} {
			if !strings.Contains(b, l) {
				t.Errorf("language switch: no %s", l)
			}
		}
		if len(resp.Cookies()) > 0 {
			t.Errorf("cookies set: %v", resp.Cookies())
		}
	})

	t.Run("search by name", func(t *testing.T) {
		for _, c := range []struct{ q, want, text string }{
			{"Lahore", "[ravi]", "Warnings in force for Lahore"},
			{"lahor", "[ravi]", "Warnings in force for Lahore"},          // a typing error
			{"بھینی", "[ravi]", "Warnings in force for Bhaini (Lahore)"}, // a village, by its Urdu name
			{"Gujranwala", "[chenab]", "Warnings in force for Gujranwala"},
			{"Dur Kot", "[]", "No warnings in force for Dur Kot (Chiniot)."},
			{"Qwertzuiop", "[]", "No place called “Qwertzuiop” is known."},
		} {
			_, b := ok(t, "/?lang=en&q="+urlEscape(c.q))
			if got := fmt.Sprint(shown(b)); got != c.want || !strings.Contains(b, c.text) {
				t.Errorf("q=%s: listed %s, want %s, and %q:\n%s", c.q, got, c.want, c.text, b)
			}
		}
	})

	t.Run("search by location", func(t *testing.T) {
		for _, c := range []struct{ lat, lon, want, text string }{
			{"31.56", "74.35", "[ravi]", "Warnings in force at 31.56, 74.35 (near "},
			{"32.41", "73.96", "[chenab]", "Warnings in force at 32.41, 73.96 (near "},
			{"24.86", "67.01", "[]", "No warnings in force for 24.86, 67.01."},
			{"20", "60", "[]", "Warnings in force for 20, 60"}, // the Arabian Sea: no place within 50 km to name
		} {
			_, b := ok(t, "/?lang=en&lat="+c.lat+"&lon="+c.lon)
			if got := fmt.Sprint(shown(b)); got != c.want || !strings.Contains(b, c.text) {
				t.Errorf("%s,%s: listed %s, want %s, and %q:\n%s", c.lat, c.lon, got, c.want, c.text, b)
			}
		}
	})

	t.Run("readers at once", func(t *testing.T) { // the caches of parsed messages and reached places, under -race
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				path := []string{"/?q=Gujranwala", "/?lat=31.56&lon=74.35", "/?q=Lahore&lang=ur", "/"}[i%4]
				resp, err := http.Get(f.srv.URL + path)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("GET %s: %d", path, resp.StatusCode)
				}
			})
		}
		wg.Wait()
	})

	t.Run("alert page", func(t *testing.T) {
		id := f.ids["ravi"]
		_, b := ok(t, fmt.Sprintf("/alerts/%d?lang=ur", id))
		capLink := `href="/cap/alerts/` + f.msg["ravi"] + `.xml"`
		for _, want := range []string{`<html lang="ur" dir="rtl">`, `<h1 lang="ur" dir="rtl">اونچے درجے کا سیلاب: ravi</h1>`,
			"لوگوں اور مویشیوں کو دریا کے کناروں سے دور لے جائیں۔", "Ravi near Lahore", capLink,
			fmt.Sprintf(`href="/alerts/%d?lang=en"`, id), fmt.Sprintf(`href="/alerts/%d?lang=zh"`, id)} {
			if !strings.Contains(b, want) {
				t.Errorf("alert page: no %s:\n%s", want, b)
			}
		}
		resp, x := f.get(t, "/cap/alerts/"+f.msg["ravi"]+".xml")
		if resp.StatusCode != 200 || !strings.Contains(x, "<identifier>"+f.msg["ravi"]+"</identifier>") {
			t.Errorf("the CAP link: %d %.300s", resp.StatusCode, x)
		}
	})

	t.Run("not public", func(t *testing.T) {
		for _, c := range []struct {
			rule   string
			status int
		}{{"drill", 404}, {"waiting", 404}, {"ops", 404}, {"over", 410}} {
			resp, b := f.get(t, fmt.Sprintf("/alerts/%d?lang=en", f.ids[c.rule]))
			if resp.StatusCode != c.status || strings.Contains(b, ": "+c.rule) || strings.Contains(b, "<article") {
				t.Errorf("%s: %d, want %d and no text of it:\n%s", c.rule, resp.StatusCode, c.status, b)
			}
		}
		if resp, _ := f.get(t, "/alerts/987654"); resp.StatusCode != 404 {
			t.Errorf("an alert that does not exist: %d", resp.StatusCode)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		long := strings.Repeat("ل", 101)
		for _, c := range []struct{ path, want string }{
			{"/?lang=en&q=" + urlEscape(long), "The place name (q) is too long: at most 100 characters."},
			{"/?lang=en&q=a%00b", "The place name (q) must be text without control characters."},
			{"/?lang=en&q=%ff%fe", "The place name (q) must be text without control characters."},
			{"/?lang=en&lat=31.5123456", "lat and lon must both be given"},
			{"/?lang=en&lat=91&lon=74", "lat from -90 to 90"},
			{"/?lang=en&lat=31&lon=abc", "lon from -180 to 180"},
			{"/?lang=en&lat=31&lon=1e999", "lon from -180 to 180"},
			{"/?lang=en&lat=NaN&lon=74", "lat and lon must both be given"},
			{"/?lang=en&lat=31&lon=" + strings.Repeat("1", 33), "each at most 32 characters"},
			{"/?lang=fr", "lang must be ur, en or zh."},
			{"/alerts/abc?lang=en", "whole number of at most 19 digits."},
			{"/alerts/99999999999999999999?lang=en", "at most 19 digits"},
			{"/alerts/0?lang=en", "at most 19 digits"},
			{"/?lang=ur&lat=200&lon=0", "lat اور lon دونوں اعشاری درجوں میں دیں"},
		} {
			resp, b := f.get(t, c.path)
			if resp.StatusCode != 400 || !strings.Contains(b, c.want) {
				t.Errorf("%s: %d, want 400 with %q:\n%s", c.path, resp.StatusCode, c.want, b)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", c.path, cc)
			}
		}
		// what a reader typed or where they are is not logged
		if l := f.log.String(); strings.Contains(l, "31.5123456") || strings.Contains(l, "ل") || !strings.Contains(l, `"param":"lat/lon"`) {
			t.Errorf("log:\n%s", l)
		}
	})

	t.Run("gzip, ETag and headers", func(t *testing.T) {
		resp, plain := ok(t, "/?lang=ur")
		if resp.Header.Get("Content-Encoding") != "" {
			t.Errorf("gzip without Accept-Encoding")
		}
		req, _ := http.NewRequest("GET", f.srv.URL+"/?lang=ur", nil)
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		zresp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(zresp.Body)
		zresp.Body.Close()
		if zresp.Header.Get("Content-Encoding") != "gzip" || len(raw) >= len(plain)/2 || len(raw) > 50_000 {
			t.Errorf("gzip: %q, %d bytes compressed of %d", zresp.Header.Get("Content-Encoding"), len(raw), len(plain))
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if unz, _ := io.ReadAll(zr); string(unz) != plain {
			t.Errorf("the compressed page is not the page")
		}
		for h, want := range map[string]string{"Cache-Control": "public, max-age=60", "Content-Type": "text/html; charset=utf-8",
			"X-Content-Type-Options": "nosniff", "Content-Language": "ur"} {
			if got := zresp.Header.Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if csp := zresp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q", csp)
		}
		etag := zresp.Header.Get("ETag")
		if r, _ := f.get(t, "/?lang=ur", "Accept-Encoding", "gzip", "If-None-Match", etag); r.StatusCode != 304 {
			t.Errorf("If-None-Match %s: %d", etag, r.StatusCode)
		}
		if r, _ := f.get(t, "/?lang=ur", "If-None-Match", etag); r.StatusCode != 200 {
			t.Errorf("the gzip ETag matched the plain page: %d", r.StatusCode)
		}
		if r, _ := f.get(t, "/?lang=en", "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
			t.Errorf("gzip;q=0 got gzip")
		}
	})

	t.Run("browser", func(t *testing.T) { inBrowser(t, f) })

	t.Run("exercises, when a demonstration node shows them", func(t *testing.T) {
		f.pub.Exercises = true
		defer func() { f.pub.Exercises = false }()
		_, b := ok(t, "/?lang=ur")
		if got := fmt.Sprint(shown(b)); got != "[drill ravi chenab]" || !strings.Contains(b, "<strong>مشق</strong> یہ مشق ہے، اصل انتباہ نہیں۔</p><h2><a href=\"/alerts/"+fmt.Sprint(f.ids["drill"])) {
			t.Errorf("listed %s, want the exercise first (Extreme) and marked as one:\n%s", got, b)
		}
		if strings.Count(b, "مشق</strong>") != 1 {
			t.Errorf("the real warnings are marked as exercises too")
		}
		if _, b := ok(t, fmt.Sprintf("/alerts/%d?lang=en", f.ids["drill"])); !strings.Contains(b, "<strong>EXERCISE</strong> This is an exercise, not a real warning.") {
			t.Errorf("the exercise's page is not marked:\n%s", b)
		}
		for _, rule := range []string{"waiting", "ops"} { // still never: a draft, an operational message
			if resp, _ := f.get(t, fmt.Sprintf("/alerts/%d", f.ids[rule])); resp.StatusCode != 404 {
				t.Errorf("%s: %d", rule, resp.StatusCode)
			}
		}
	})

	t.Run("expired", func(t *testing.T) {
		f.pub.Now = func() time.Time { return time.Now().Add(7 * time.Hour) }
		defer func() { f.pub.Now = nil }()
		_, b := ok(t, "/?lang=en")
		if got := fmt.Sprint(shown(b)); got != "[]" || !strings.Contains(b, "No warnings in force.") {
			t.Errorf("after expiry: listed %s:\n%s", got, b)
		}
		if resp, _ := f.get(t, fmt.Sprintf("/alerts/%d", f.ids["ravi"])); resp.StatusCode != 410 {
			t.Errorf("an expired warning's page: %d, want 410", resp.StatusCode)
		}
	})
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
