package voice

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseFile: whatever the last segment of an audio URL, ParseFile either refuses it or
// returns a lower-case tag of letters, digits and hyphens, whose file stays inside the store.
func FuzzParseFile(f *testing.F) {
	for _, s := range []string{"ur.wav", "en-PK.wav", "zh.wav", "../x.wav", "ur.mp3", ".wav", "a.wav", "ur", "%2e%2e.wav", "ur/../../etc.wav", "ur\x00.wav", "اردو.wav"} {
		f.Add(s, "rabta-pdma-1-1")
	}
	f.Fuzz(func(t *testing.T, file, identifier string) {
		lang, err := ParseFile(file)
		if err != nil {
			return
		}
		for _, c := range lang {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("ParseFile(%q) = %q", file, lang)
			}
		}
		dir := "/data/audio"
		p, err := Files{Dir: dir}.path(identifier, lang)
		if err != nil {
			t.Fatalf("path for %q: %v", lang, err)
		}
		if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") || strings.Count(rel, string(filepath.Separator)) != 1 {
			t.Fatalf("identifier %q, lang %q: %s is not a file of the store", identifier, lang, p)
		}
	})
}

// FuzzClipName: a level's clip name never holds a path separator or a dot, and the names of
// the demo's levels are what docs/voice.md says.
func FuzzClipName(f *testing.F) {
	for _, s := range []string{"Very High", "All clear", "Exceptionally High", "../../etc/passwd", "Low", "", "  -- ", "سیلاب", "High\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, level string) {
		n := ClipName(level)
		if strings.ContainsAny(n, `/\.`) || strings.HasPrefix(n, "-") || strings.HasSuffix(n, "-") || len(n) > 64 {
			t.Fatalf("ClipName(%q) = %q", level, n)
		}
	})
}

func TestClipName(t *testing.T) {
	for in, want := range map[string]string{"Very High": "very-high", "All clear": "all-clear", "Exceptionally  High!": "exceptionally-high", "../x": "x", "سیلاب": ""} {
		if got := ClipName(in); got != want {
			t.Errorf("ClipName(%q) = %q, want %q", in, got, want)
		}
	}
}
