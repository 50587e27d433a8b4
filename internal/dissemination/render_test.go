package dissemination_test

import (
	"testing"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
)

// A call plays the audio <resource> of the listener's language, or of the first language of
// its fallback chain that has one (Pashto, which espeak-ng cannot speak: Urdu); with no audio
// in the message at all, the listener's info's audio where the node serves it.
func TestVoiceRender(t *testing.T) {
	wav := func(uri string) []cap.Resource {
		return []cap.Resource{{ResourceDesc: "map", MimeType: "image/png", URI: "https://x/map.png"}, {ResourceDesc: "audio message", MimeType: "audio/wav", URI: uri}}
	}
	with := &cap.Alert{Identifier: "a-1", Infos: []cap.Info{
		{Language: "en", Headline: "Flood", Resources: wav("https://n/cap/alerts/a-1/audio/en.wav")},
		{Language: "ur", Headline: "سیلاب", Resources: wav("https://n/cap/alerts/a-1/audio/ur.wav")},
		{Language: "ps", Headline: "سیلاب"},
	}}
	without := &cap.Alert{Identifier: "a-2", Infos: []cap.Info{{Language: "en", Headline: "Flood"}, {Language: "ur", Headline: "سیلاب"}}}
	links := dissemination.Links{Audio: "https://n/cap/alerts/a-2/audio/"}
	for _, c := range []struct {
		a              *cap.Alert
		lang           string
		wantLang, want string
	}{
		{with, "ur", "ur", "https://n/cap/alerts/a-1/audio/ur.wav"},
		{with, "en-PK", "en", "https://n/cap/alerts/a-1/audio/en.wav"},
		{with, "ps", "ur", "https://n/cap/alerts/a-1/audio/ur.wav"},
		{with, "zh", "en", "https://n/cap/alerts/a-1/audio/en.wav"},
		{without, "ur", "ur", "https://n/cap/alerts/a-2/audio/ur.wav"},
	} {
		m, err := (&dissemination.Messages{}).Render(channel.Voice, c.a, nil, c.lang, links)
		if err != nil || m.Language != c.wantLang || m.AudioURL != c.want {
			t.Errorf("%s listener of %s: %s %q (%v), want %s %q", c.lang, c.a.Identifier, m.Language, m.AudioURL, err, c.wantLang, c.want)
		}
	}
}
