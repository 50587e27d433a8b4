package node

import (
	"path/filepath"
	"time"

	"github.com/rabta/rabta/internal/voice"
)

// VoiceOptions say how a node speaks its warnings (docs/voice.md): each issued message's
// <info>s rendered to audio, attached as CAP <resource>s and served at
// /cap/alerts/{identifier}/audio/{lang}.wav. On by default when espeak-ng and sox are found;
// without them the node runs without audio and logs why.
type VoiceOptions struct {
	// Off turns audio messages off.
	Off bool
	// Espeak and Sox are the programs (empty: espeak-ng and sox on PATH).
	Espeak, Sox string
	// Clips is a directory of recorded-voice template sets (voice.Renderer.Clips).
	Clips string
	// Budget bounds the rendering of one message when it is issued (0: voice.DefaultBudget).
	Budget time.Duration
}

// newVoice turns on the audio messages: rendered before each message is signed
// (alert.Service.Attach), kept in <data-dir>/audio, served beside the CAP messages (public
// like them).
func (n *Node) newVoice(o VoiceOptions) {
	if o.Off {
		return
	}
	r := &voice.Renderer{Espeak: o.Espeak, Sox: o.Sox, Clips: o.Clips}
	if err := r.Check(); err != nil {
		n.log.Warn("no_voice", "why", "alerts are issued without audio messages", "err", err)
		return
	}
	svc := &voice.Service{Renderer: r, Files: voice.Files{Dir: filepath.Join(n.opts.DataDir, "audio")}, BaseURL: n.base, Budget: o.Budget,
		Message: n.stores.Alerts.MessageByIdentifier, Private: n.opts.PrivateAlerts, Error: n.api.Error, Log: n.log.With("component", "voice")}
	n.alerts.Attach = svc.Attach
	n.handle("GET /cap/alerts/{identifier}/audio/{file}", svc.Handler())
}
