package voice

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
)

// DefaultBudget is how long Attach may spend rendering one message's languages before the
// message is issued without the audio it could not finish (it is rendered when first asked
// for at its URL instead).
const DefaultBudget = 10 * time.Second

// Service renders the audio message of each <info> of an alert when the alert is issued,
// attaches it to the CAP message as a <resource>, keeps it (Files) and serves it at
// /cap/alerts/{identifier}/audio/{lang}.wav.
type Service struct {
	Renderer *Renderer
	Files    Files
	// BaseURL is the node's public URL ("https://alerts.pdma.gov.pk"); the resource URIs
	// start with it.
	BaseURL string
	// Budget bounds Attach (0: DefaultBudget).
	Budget time.Duration
	// Message finds an issued message by CAP identifier (the alert store's).
	Message func(ctx context.Context, identifier string) (*alert.Message, error)
	// Private closes the audio to anonymous clients, like the CAP messages (httpapi's
	// PrivateAlerts).
	Private bool
	// Error writes an error response (the node's one writer).
	Error func(w http.ResponseWriter, r *http.Request, err error)
	Log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*sync.Mutex // identifier|lang → held while it renders
	noVoice map[string]bool        // languages already logged as having no voice
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// firstNoVoice reports whether lang is missing a voice for the first time in this process.
func (s *Service) firstNoVoice(lang string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noVoice == nil {
		s.noVoice = map[string]bool{}
	}
	first := !s.noVoice[lang]
	s.noVoice[lang] = true
	return first
}

// URL is where the audio message of an alert message's language is served.
func (s *Service) URL(identifier, lang string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/cap/alerts/" + url.PathEscape(identifier) + "/audio/" + strings.ToLower(lang) + ".wav"
}

// lock serialises renders of one identifier and language, so that a message is rendered once
// however many ask for it at once.
func (s *Service) lock(key string) func() {
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[string]*sync.Mutex{}
	}
	m := s.pending[key]
	if m == nil {
		m = &sync.Mutex{}
		s.pending[key] = m
	}
	s.mu.Unlock()
	m.Lock()
	return func() {
		// forgotten once done, so the map holds only renders under way; one that waited on
		// it finds the file kept
		s.mu.Lock()
		if s.pending[key] == m {
			delete(s.pending, key)
		}
		s.mu.Unlock()
		m.Unlock()
	}
}

// Audio returns the audio message of in, an <info> of the message identifier: the stored
// file, or rendered now and stored. Idempotent: a message is rendered once per node.
func (s *Service) Audio(ctx context.Context, identifier string, in *cap.Info) ([]byte, error) {
	lang := strings.ToLower(in.Language)
	if b, err := s.Files.Get(identifier, lang); err == nil {
		return b, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	unlock := s.lock(identifier + "|" + lang)
	defer unlock()
	if b, err := s.Files.Get(identifier, lang); err == nil { // rendered while we waited
		return b, nil
	}
	start := time.Now()
	b, err := s.Renderer.Render(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := s.Files.Put(identifier, lang, b); err != nil {
		return nil, fmt.Errorf("voice: keep %s: %w", lang, err)
	}
	s.log().Info("audio_rendered", "identifier", identifier, "lang", lang, "bytes", len(b), "took_ms", time.Since(start).Milliseconds())
	return b, nil
}

// Attach renders every <info> of m, which is about to be built and signed (its Identifier
// set), and gives each info a <resource> for its audio: resourceDesc "audio message",
// mimeType audio/wav, size, uri (URL) and the SHA-1 digest (CAP 1.2 §3.2.3). An audio
// resource m already carries (a Cancel made from the message it cancels) is replaced.
// Languages are rendered two at a time within Budget; a language that fails or is not done in
// time is logged and left without a resource — the warning is never held back for its audio.
func (s *Service) Attach(ctx context.Context, m *cap.Alert) {
	budget := s.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res := make([]*cap.Resource, len(m.Infos))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range m.Infos {
		in := &m.Infos[i]
		if strings.TrimSpace(in.Language) == "" || !validLang(in.Language) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := s.Audio(ctx, m.Identifier, in)
			if errors.Is(err, ErrNoVoice) && !s.firstNoVoice(in.Language) {
				// said once per language: a node whose languages include one without a voice
				// would otherwise warn on every alert
				s.log().Debug("audio_not_attached", "identifier", m.Identifier, "lang", in.Language, "err", err)
			} else if err != nil {
				s.log().Warn("audio_not_attached", "identifier", m.Identifier, "lang", in.Language, "err", err)
				return
			}
			r := Resource(b, s.URL(m.Identifier, in.Language))
			res[i] = &r
		}()
	}
	wg.Wait()
	for i := range m.Infos {
		in := &m.Infos[i]
		kept := slices.DeleteFunc(slices.Clone(in.Resources), func(r cap.Resource) bool { return r.ResourceDesc == Desc && r.MimeType == MimeType })
		if res[i] != nil {
			kept = append(kept, *res[i])
		}
		in.Resources = kept
	}
}

// Handler serves GET /cap/alerts/{identifier}/audio/{file}, file being "<lang>.wav": the
// audio message of that <info> of an issued message, as audio/wav with Content-Length, an
// ETag (the SHA-1 the CAP resource's digest gives) and byte ranges (RFC 9110 §14, by
// http.ServeContent). Public like the CAP messages unless Private; an operational message's
// audio needs a viewer key (404 otherwise, as for its CAP XML). 404 for an unknown message,
// a language the message has no <info> in, or a language with no voice; 400 for a file
// name that is not "<language tag>.wav".
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Private {
			if err := auth.Require(r.Context(), auth.Viewer); err != nil {
				s.Error(w, r, err)
				return
			}
		}
		id := r.PathValue("identifier")
		lang, err := ParseFile(r.PathValue("file"))
		if err != nil {
			s.Error(w, r, err)
			return
		}
		m, err := s.Message(r.Context(), id)
		if err != nil {
			s.Error(w, r, err)
			return
		}
		if m.Operational {
			if err := auth.Require(r.Context(), auth.Viewer); err != nil {
				s.Error(w, r, apperr.E(apperr.NotFound, "no alert message %q", id))
				return
			}
		}
		msg, err := cap.Unmarshal(m.XML)
		if err != nil {
			s.Error(w, r, fmt.Errorf("voice: read message %s: %w", id, err))
			return
		}
		var in *cap.Info
		var langs []string
		for i := range msg.Infos {
			langs = append(langs, strings.ToLower(msg.Infos[i].Language))
			if strings.EqualFold(msg.Infos[i].Language, lang) {
				in = &msg.Infos[i]
			}
		}
		if in == nil {
			s.Error(w, r, apperr.E(apperr.NotFound, "alert message %q has no <info> in %q; it has %s", id, lang, strings.Join(langs, ", ")))
			return
		}
		b, err := s.Audio(r.Context(), id, in)
		if errors.Is(err, ErrNoVoice) {
			s.Error(w, r, apperr.E(apperr.NotFound, "no audio in %q: espeak-ng has no voice for it and the node has no recorded clip for it (docs/voice.md)", lang))
			return
		}
		if err != nil {
			s.Error(w, r, err)
			return
		}
		sum := sha1.Sum(b)
		digest := hex.EncodeToString(sum[:])
		for _, res := range in.Resources {
			if res.MimeType == MimeType && res.Digest != "" && !strings.EqualFold(res.Digest, digest) {
				// rendered by another espeak-ng or sox than the one that attached it
				s.log().Warn("audio_digest_differs", "identifier", id, "lang", lang, "cap_digest", res.Digest, "served", digest)
			}
		}
		h := w.Header()
		h.Set("Content-Type", MimeType)
		h.Set("ETag", `"`+digest+`"`)
		if m.Operational || s.Private {
			h.Set("Cache-Control", "private, max-age=300")
		} else {
			h.Set("Cache-Control", "public, max-age=300")
		}
		http.ServeContent(w, r, "", m.Sent, bytes.NewReader(b))
	})
}

// ParseFile reads the last segment of an audio URL, "<lang>.wav" (lang a language tag: ASCII
// letters, digits and hyphens, 2 to 35 bytes), and returns lang in lower case; a 400 naming
// the segment otherwise.
func ParseFile(file string) (string, error) {
	lang, ok := strings.CutSuffix(file, ".wav")
	if !ok || !validLang(lang) {
		return "", apperr.E(apperr.Invalid, "audio file %q: want <language>.wav, e.g. ur.wav", clip(file))
	}
	return strings.ToLower(lang), nil
}

func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
