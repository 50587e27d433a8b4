package channel

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestPermanent(t *testing.T) {
	base := errors.New("invalid destination")
	p := Permanent(base)
	if !IsPermanent(p) || !IsPermanent(fmt.Errorf("send: %w", p)) || !errors.Is(p, base) {
		t.Fatal("a wrapped permanent error is permanent and unwraps")
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Fatal("only marked errors are permanent")
	}
}

func TestRedactKeepsAddressesOutOfLogs(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, nil))
	for _, to := range []string{"+923001234567", "ayesha.khan@example.org", "https://user:pw@partner.example/hook?token=s3cret"} {
		log.Info("send", "msg", Message{DeliveryID: 7, Kind: SMS, To: to})
	}
	out := b.String()
	for _, secret := range []string{"3001234567", "ayesha.khan", "s3cret", "user:pw", "/hook"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %q: %s", secret, out)
		}
	}
	for _, want := range []string{`"delivery":7`, "+923…67", "a…@example.org", "https://partner.example/…"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
}
