package channel

import (
	"context"
	"log/slog"
	"time"
)

// Inbound is one SMS a person sent to the node's number (a mobile-originated message), as a
// gateway handed it over: Kannel's sms-service get-url (channel/kannel.MOHandler) or an SMPP
// deliver_sm that is not a delivery receipt (channel/smpp). The command logic that reads it
// (package twoway) does not know which gateway it came from.
type Inbound struct {
	// From is the sender's E.164 number ("+923001234567"): personal data, never logged in
	// clear (LogValue redacts it).
	From string
	// To is the number or short code it was sent to, as the gateway gave it ("" if none).
	To string
	// Text is the message, UTF-8 (a UCS-2 SMS decoded).
	Text string
	// Received is when the gateway received it (the gateway's time stamp, or the time it was
	// handed over when the gateway gives none).
	Received time.Time
	// Gateway names the gateway it came through: "kannel" or "smpp".
	Gateway string
}

// LogValue keeps the sender's number and the text out of logs.
func (in Inbound) LogValue() slog.Value {
	return slog.GroupValue(slog.String("from", Redact(in.From)), slog.String("gateway", in.Gateway),
		slog.Int("chars", len([]rune(in.Text))))
}

// InboundFunc handles an incoming SMS. It is called on the gateway's goroutine (an HTTP
// request, an SMPP session) and should return promptly; an error tells the gateway to try
// again later where its protocol allows (Kannel retries a get-url that fails).
type InboundFunc func(ctx context.Context, in Inbound) error
