package dissemination

import (
	"strings"

	"github.com/rabta/rabta/internal/cap"
	"golang.org/x/text/language"
)

// PickInfo chooses the <info> for a reader of language lang: the exact tag, then the same
// base language, then Urdu (Pakistan's national language), then English, then the first.
func PickInfo(a *cap.Alert, lang string) *cap.Info {
	if len(a.Infos) == 0 {
		return nil
	}
	want, _ := language.Parse(lang)
	wb, _ := want.Base()
	for _, try := range []func(*cap.Info) bool{
		func(in *cap.Info) bool { return strings.EqualFold(in.Language, lang) },
		func(in *cap.Info) bool {
			t, err := language.Parse(in.Language)
			b, _ := t.Base()
			return err == nil && b == wb
		},
		func(in *cap.Info) bool { return strings.HasPrefix(strings.ToLower(in.Language), "ur") },
		func(in *cap.Info) bool {
			return in.Language == "" || strings.HasPrefix(strings.ToLower(in.Language), "en")
		},
	} {
		for i := range a.Infos {
			if try(&a.Infos[i]) {
				return &a.Infos[i]
			}
		}
	}
	return &a.Infos[0]
}
