package public_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/web/webtest"
)

// The page in a real browser (Debian's headless Chromium): it reads without JavaScript, weighs
// under 50 KB with everything it loads, asks no other host for anything, is right to left in
// Urdu, passes axe-core's checks in every language, and its optional script works under the
// page's own Content-Security-Policy. Screenshots of / in each language and of an alert page
// go to the artefact directory (webtest.ArtefactDir).
//
// It runs as TestPublicPage/browser, on the same fixture as the handler tests.
func inBrowser(t *testing.T, f *fixture) {
	b := webtest.Start(t)
	const budget = 50_000
	// two tabs for every page: one with JavaScript disabled, one with it
	noJS := b.Page(t, webtest.PageOptions{NoScript: true})
	js := b.Page(t, webtest.PageOptions{})
	for _, c := range []struct {
		lang, html, text string
		axe              bool
	}{
		{"ur", `<html lang="ur" dir="rtl">`, "اونچے درجے کا سیلاب: ravi", true},
		{"en", `<html lang="en" dir="ltr">`, "High flood: ravi", true},
		{"zh", `<html lang="zh-Hans" dir="ltr">`, "洪水：ravi", false}, // the same markup as en: axe's time is spent on ur and en
	} {
		t.Run(c.lang, func(t *testing.T) {
			// without JavaScript: the warnings are there, and nothing else is fetched
			noJS.Navigate(f.srv.URL + "/?lang=" + c.lang)
			doc := noJS.HTML()
			if !strings.Contains(doc, c.html) || !strings.Contains(doc, c.text) || !strings.Contains(doc, `id="geo" hidden=""`) {
				t.Errorf("without JavaScript: want %s, %q and the location button hidden:\n%s", c.html, c.text, doc)
			}
			reqs := noJS.Requests()
			if len(reqs) != 1 || reqs[0].Type != "Document" {
				t.Errorf("requests: %+v, want the document alone (no favicon, no font, no script)", reqs)
			}
			if foreign := noJS.Foreign(f.srv.URL); len(foreign) > 0 {
				t.Errorf("requests to other hosts: %+v", foreign)
			}
			w := noJS.Weight()
			t.Logf("weight of / in %s, first load, with everything it loads: %d bytes on the wire (headers and gzip body)", c.lang, w)
			if w == 0 || w > budget {
				t.Errorf("weight %d bytes, budget %d", w, budget)
			}
			noJS.Screenshot("public-" + c.lang)

			// with JavaScript: the direction as the browser lays it out, the location button
			// shown by the inline script (allowed by its hash), and axe-core finds nothing
			js.Navigate(f.srv.URL + "/?lang=" + c.lang)
			dir := webtest.Eval[string](js, `getComputedStyle(document.body).direction + " " + getComputedStyle(document.querySelector("article")).direction`)
			want := map[string]string{"ur": "rtl rtl", "en": "ltr ltr", "zh": "ltr ltr"}[c.lang]
			if dir != want {
				t.Errorf("computed direction of body and the first warning: %q, want %q", dir, want)
			}
			if hidden := webtest.Eval[bool](js, `document.getElementById("geo").hidden`); hidden {
				t.Errorf("the location button is still hidden with JavaScript on: the inline script did not run (CSP hash?)")
			}
			if foreign := js.Foreign(f.srv.URL); len(foreign) > 0 || len(js.Requests()) != 1 {
				t.Errorf("with JavaScript: requests %+v", js.Requests())
			}
			if c.axe {
				js.CheckAxe("/?lang=" + c.lang)
			}
		})
	}
	t.Run("alert page", func(t *testing.T) {
		for _, lang := range []string{"ur", "en"} {
			js.Navigate(fmt.Sprintf("%s/alerts/%d?lang=%s", f.srv.URL, f.ids["ravi"], lang))
			if foreign := js.Foreign(f.srv.URL); len(foreign) > 0 {
				t.Errorf("requests to other hosts: %+v", foreign)
			}
			t.Logf("weight of the alert page in %s: %d bytes", lang, js.Weight())
			if lang == "ur" {
				js.CheckAxe("the alert page in " + lang)
			}
			js.Screenshot("alert-" + lang)
		}
		// keyboard: the skip link is the first stop and leads to the warnings
		js.Navigate(f.srv.URL + "/?lang=en")
		first := webtest.Eval[string](js, `(() => { const a = document.querySelector("a"); a.focus(); return document.activeElement.textContent + " → " + a.getAttribute("href") })()`)
		if first != "Skip to the warnings → #main" {
			t.Errorf("first link: %q", first)
		}
	})
}
