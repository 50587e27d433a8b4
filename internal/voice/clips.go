package voice

import (
	"os"
	"path/filepath"
	"strings"
)

// A recorded-voice template set replaces or frames espeak-ng for one language with clips a
// person recorded. Layout, under Renderer.Clips:
//
//	<lang>/intro.wav              optional: said first ("Attention, a warning from the PDMA")
//	<lang>/outro.wav              optional: said last ("Listen to your local authority")
//	<lang>/levels/<level>.wav     for a language espeak-ng has no voice for (Pashto): the
//	                              whole body of the message at that level
//
// <lang> is the <info> language tag in lower case ("ur", "ps"); <level> is the rule level's
// name (CAP parameter rabta:level) in lower case with every run of other characters than
// letters and digits turned into one "-": "Very High" → very-high, "All clear" → all-clear.
// Clips may be any WAV sox reads (any rate, mono or stereo): each is converted to Rate Hz mono
// before they are joined. A missing file is skipped; a set is read at each render, so clips
// can be replaced while the node runs.
type clipSet struct{ dir string }

func (r *Renderer) clips(lang string) clipSet {
	if r.Clips == "" || !validLang(lang) {
		return clipSet{}
	}
	return clipSet{filepath.Join(r.Clips, strings.ToLower(lang))}
}

func (c clipSet) file(rel ...string) string {
	if c.dir == "" {
		return ""
	}
	p := filepath.Join(append([]string{c.dir}, rel...)...)
	if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
		return ""
	}
	return p
}

func (c clipSet) intro() string { return c.file("intro.wav") }
func (c clipSet) outro() string { return c.file("outro.wav") }

func (c clipSet) level(level string) string {
	name := ClipName(level)
	if name == "" {
		return ""
	}
	return c.file("levels", name+".wav")
}

// ClipName is the file name (without .wav) of a level's clip: the level in lower case, each
// run of characters other than ASCII letters and digits turned into one "-", none at either
// end; "" for a level with no letter or digit. It never holds a path separator or a dot.
func ClipName(level string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(level) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			sep := dash && b.Len() > 0
			if b.Len()+1+btoi(sep) > 64 { // at most 64 bytes
				break
			}
			if sep {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(c)
			continue
		}
		dash = true
	}
	return b.String()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
