package federation

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
)

// AlertKind is the Kind of an AlertMessage, written first so that a receiver tells the two
// kinds of message on an agreement's stream apart without decoding (IsAlertMessage).
const AlertKind = "cap"

// MaxAlertMessage bounds one AlertMessage's size in bytes (the signed CAP XML inside included).
const MaxAlertMessage = 512 << 10

// AlertMessage is one CAP message the provider issued, shared under an agreement whose
// selection says alerts (version 1, JSON), on the agreement's stream beside the data Messages.
// CAP is the message as the provider issued it: CAP 1.2 XML with the provider node's enveloped
// XML Signature, which the consumer verifies against the certificate it holds for the provider
// (Partner.Cert) before it makes anything of it.
type AlertMessage struct {
	Kind        string `json:"kind"` // AlertKind; must stay the first field (IsAlertMessage)
	V           int    `json:"v"`
	Provider    string `json:"provider"`
	Agreement   int64  `json:"agreement"`
	ConsumerOrg string `json:"consumerOrganisation"`
	// Alert is the provider's alert (warning thread) id: its messages (Alert, Updates, Cancel)
	// become one local alert on the consumer.
	Alert int64 `json:"alert"`
	// Message is the provider's id of this message (its order in the provider's store).
	Message    int64  `json:"message"`
	Identifier string `json:"identifier"` // the CAP identifier, as in CAP
	CAP        string `json:"cap"`
}

var alertPrefix = []byte(`{"kind":"` + AlertKind + `"`)

// IsAlertMessage reports whether b, a message of an agreement's stream, is an AlertMessage
// (as the exporter writes them: the kind first) rather than a data Message.
func IsAlertMessage(b []byte) bool { return bytes.HasPrefix(b, alertPrefix) }

// MsgID is the JetStream message id of m: the same message exported twice is stored once.
func (m *AlertMessage) MsgID() string {
	return fmt.Sprintf("%s:a%d:m%d", m.Provider, m.Agreement, m.Message)
}

// DecodeAlertMessage reads one AlertMessage; the error (apperr.Invalid) says which member is
// wrong. The CAP inside is not checked here (the receiver verifies its signature).
func DecodeAlertMessage(b []byte) (*AlertMessage, error) {
	if len(b) > MaxAlertMessage {
		return nil, apperr.E(apperr.Invalid, "federation alert: %d bytes, at most %d", len(b), MaxAlertMessage)
	}
	var m AlertMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, apperr.E(apperr.Invalid, "federation alert: %s", jsonErr(err))
	}
	switch {
	case m.Kind != AlertKind:
		return nil, apperr.E(apperr.Invalid, "federation alert: kind %q, want %q", m.Kind, AlertKind)
	case m.V != 1:
		return nil, apperr.E(apperr.Invalid, "federation alert: v: version %d, want 1", m.V)
	case !ValidName(m.Provider):
		return nil, apperr.E(apperr.Invalid, "federation alert: provider: %q is not a node name", m.Provider)
	case m.Agreement <= 0 || m.Alert <= 0 || m.Message <= 0:
		return nil, apperr.E(apperr.Invalid, "federation alert: agreement, alert and message: positive ids required")
	case !ValidName(m.ConsumerOrg):
		return nil, apperr.E(apperr.Invalid, "federation alert: consumerOrganisation: %q is not an organisation name", m.ConsumerOrg)
	case m.Identifier == "" || len(m.Identifier) > 1024:
		return nil, apperr.E(apperr.Invalid, "federation alert: identifier: required, at most 1024 bytes")
	case m.CAP == "":
		return nil, apperr.E(apperr.Invalid, "federation alert: cap: the signed CAP XML required")
	}
	return &m, nil
}
