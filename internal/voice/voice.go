package voice

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/cap"
)

// Rate is the sample rate of every rendered message, in Hz: 16 kHz mono 16-bit PCM
// ("wideband" telephony). IVR platforms take it as it is (Asterisk's slin16, G.722 gateways)
// or halve it for narrowband G.711 calls without loss of what a call can carry; loudspeakers
// and FM community radio get twice the bandwidth of a phone call, which keeps speech
// intelligible outdoors. 32 kB per second of speech.
const Rate = 16000

// MimeType is the media type of a rendered message (RFC 2361's audio/wav, as CAP resources
// and browsers name it).
const MimeType = "audio/wav"

// Desc is the CAP <resourceDesc> of an audio message.
const Desc = "audio message"

// voices maps a CAP <info> language (Rabta's i18n tags) to the espeak-ng voice that speaks
// it. Absent: espeak-ng has no voice that reads the language's script (Pashto: espeak-ng 1.51
// has no Pashto voice at all). Chinese uses cmn-latn-pinyin: espeak-ng 1.51's plain "cmn"
// voice speaks the pinyin tone digits of some characters as English numbers ("ni three"),
// espeak-ng issue 1236. Punjabi in Shahmukhi (pnb) is read with the Urdu voice: espeak-ng's
// "pa" reads Gurmukhi only and spells Shahmukhi letter by letter ("Arabic letter …"), while
// Shahmukhi is Urdu's script with the same sounds for nearly every letter.
var voices = map[string]string{
	"ur":  "ur",
	"en":  "en",
	"zh":  "cmn-latn-pinyin",
	"cmn": "cmn-latn-pinyin",
	"sd":  "sd",
	"pnb": "ur",
	"hi":  "hi",
	"pa":  "pa",
}

// Voice returns the espeak-ng voice for a language tag ("ur", "ur-PK", "zh-Hans"), and
// whether there is one.
func Voice(lang string) (string, bool) {
	l := strings.ToLower(lang)
	if v, ok := voices[l]; ok {
		return v, true
	}
	v, ok := voices[base(l)]
	return v, ok
}

// Text is what is spoken for an <info>: its headline, then its instruction (what to do),
// each ending in a full stop of the language so that the voice pauses between them.
func Text(in *cap.Info) string {
	stop := "."
	switch base(in.Language) {
	case "ur", "pnb", "sd", "ps":
		stop = "۔"
	case "zh", "cmn":
		stop = "。"
	}
	var parts []string
	for _, s := range []string{in.Headline, in.Instruction} {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.HasSuffix(s, stop) && !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") {
			s += stop
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// base returns a language tag's primary subtag in lower case ("ur" for "ur-PK").
func base(lang string) string {
	l := strings.ToLower(lang)
	if i := strings.IndexAny(l, "-_"); i > 0 {
		return l[:i]
	}
	return l
}

// ErrNoVoice is returned for a language espeak-ng cannot speak and no recorded clip covers.
var ErrNoVoice = errors.New("no voice for this language")

// Renderer turns an <info> into a WAV file (Rate Hz, mono, 16-bit PCM) by running espeak-ng
// and sox, or by joining recorded clips (Clips). It is safe for concurrent use; the same
// <info> always renders to the same bytes with the same espeak-ng and sox (no dither), so
// processes of one node that render the same message independently agree on its digest.
type Renderer struct {
	// Espeak and Sox are the programs (default: "espeak-ng" and "sox" on PATH).
	Espeak, Sox string
	// Clips, when set, is a directory of recorded-voice template sets, one folder per
	// language (see Clips).
	Clips string
}

func (r *Renderer) espeak() string {
	if r.Espeak != "" {
		return r.Espeak
	}
	return "espeak-ng"
}

func (r *Renderer) sox() string {
	if r.Sox != "" {
		return r.Sox
	}
	return "sox"
}

// Check tells whether espeak-ng and sox can be run.
func (r *Renderer) Check() error {
	for _, p := range []string{r.espeak(), r.sox()} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("voice: %s not found (Debian: apt-get install espeak-ng sox): %w", p, err)
		}
	}
	return nil
}

// maxText bounds what is spoken: a headline and an instruction are short; a minute of speech
// is about 900 characters.
const maxText = 4000

// Render renders in. The message is, in order: the language's recorded intro clip, if any;
// the headline and instruction spoken by espeak-ng, or, where the language has no voice,
// the recorded clip of the info's level (parameter rabta:level); the recorded outro clip, if
// any. It returns ErrNoVoice when neither a voice nor a level clip covers the language.
func (r *Renderer) Render(ctx context.Context, in *cap.Info) ([]byte, error) {
	lang := strings.ToLower(in.Language)
	set := r.clips(lang)
	tmp, err := os.MkdirTemp("", "rabta-voice-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var parts []string
	if p := set.intro(); p != "" {
		parts = append(parts, p)
	}
	if v, ok := Voice(lang); ok {
		text := Text(in)
		if text == "" {
			return nil, errors.New("voice: the info has neither headline nor instruction")
		}
		if len(text) > maxText {
			text = text[:strings.LastIndex(text[:maxText], " ")+1]
		}
		spoken := filepath.Join(tmp, "speech.wav")
		// the text goes on stdin, never as an argument: a headline that starts with "-" is
		// not an option
		cmd := exec.CommandContext(ctx, r.espeak(), "-v", v, "-w", spoken)
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("voice: espeak-ng -v %s: %w: %s", v, err, bytes.TrimSpace(out))
		}
		parts = append(parts, spoken)
	} else if p := set.level(levelOf(in)); p != "" {
		parts = append(parts, p)
	} else {
		return nil, fmt.Errorf("voice: %s: %w (espeak-ng has none; a recorded set needs %s)", lang, ErrNoVoice, filepath.Join(lang, "levels", "<level>.wav"))
	}
	if p := set.outro(); p != "" {
		parts = append(parts, p)
	}
	// each part to Rate Hz mono 16-bit first: sox joins only files of one rate and channel count
	var norm []string
	for i, p := range parts {
		out := filepath.Join(tmp, "part"+strconv.Itoa(i)+".wav")
		if err := r.run(ctx, "-D", p, "-r", strconv.Itoa(Rate), "-c", "1", "-b", "16", "-e", "signed-integer", out); err != nil {
			return nil, err
		}
		norm = append(norm, out)
	}
	final := norm[0]
	if len(norm) > 1 {
		final = filepath.Join(tmp, "message.wav")
		if err := r.run(ctx, append(append([]string{"-D"}, norm...), final)...); err != nil {
			return nil, err
		}
	}
	return os.ReadFile(final)
}

func (r *Renderer) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, r.sox(), args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("voice: sox: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// levelOf returns the info's rabta:level parameter ("" when none).
func levelOf(in *cap.Info) string {
	for _, p := range in.Parameters {
		if p.ValueName == "rabta:level" {
			return p.Value
		}
	}
	return ""
}

// Resource describes a rendered message as a CAP <resource> (CAP 1.2 §3.2.3): resourceDesc
// "audio message", mimeType audio/wav, size in bytes, the URI it is served at, and digest, the
// SHA-1 of the file in hex as CAP 1.2 requires.
func Resource(wav []byte, uri string) cap.Resource {
	sum := sha1.Sum(wav)
	size := int64(len(wav))
	return cap.Resource{ResourceDesc: Desc, MimeType: MimeType, Size: &size, URI: uri, Digest: hex.EncodeToString(sum[:])}
}

// Files keeps rendered messages in a directory: <dir>/<h>/<lang>.wav, where h is the
// SHA-256 of the CAP identifier in hex (an identifier may hold any character but space,
// comma, < and &, none of which then reach a path).
type Files struct{ Dir string }

func (f Files) path(identifier, lang string) (string, error) {
	if !validLang(lang) {
		return "", fmt.Errorf("voice: language %q is not a language tag", lang)
	}
	h := sha256.Sum256([]byte(identifier))
	return filepath.Join(f.Dir, hex.EncodeToString(h[:]), strings.ToLower(lang)+".wav"), nil
}

// Get returns a stored message, or an error satisfying errors.Is(err, os.ErrNotExist).
func (f Files) Get(identifier, lang string) ([]byte, error) {
	p, err := f.path(identifier, lang)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// Put stores a message atomically (a reader sees the whole file or none).
func (f Files) Put(identifier, lang string, wav []byte) error {
	p, err := f.path(identifier, lang)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(wav); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// validLang accepts a BCP 47-like tag: letters, digits and hyphens, 2 to 35 bytes, starting
// with a letter.
func validLang(s string) bool {
	if len(s) < 2 || len(s) > 35 {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '-'):
		default:
			return false
		}
	}
	return true
}
