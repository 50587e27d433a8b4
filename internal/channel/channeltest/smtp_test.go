package channeltest_test

import (
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/channel/channeltest"
)

// TestSMTP drives the test server with the standard library's client, which nobody here wrote.
func TestSMTP(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{})
	msg := []byte("Subject: test\r\n\r\n.leading dot\r\nbody\r\n")
	if err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitMails(1, 5*time.Second)[0]
	if got.From != "from@example.org" || len(got.To) != 1 || got.To[0] != "to@example.org" || string(got.Data) != string(msg) {
		t.Errorf("recorded %+v", got)
	}

	srv.Refuse("TO@example.org", 550)
	err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg)
	if err == nil || !strings.HasPrefix(err.Error(), "550") {
		t.Errorf("refused with 550: err = %v", err)
	}
	srv.Refuse("to@example.org", 451)
	if err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg); err == nil || !strings.HasPrefix(err.Error(), "451") {
		t.Errorf("refused with 451: err = %v", err)
	}
	srv.Refuse("to@example.org", 0)

	srv.Stop()
	if err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg); err == nil {
		t.Error("sent to a stopped server")
	}
	srv.Start()
	srv.Start() // starting a running server does nothing
	if err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if n := len(srv.WaitMails(2, 5*time.Second)); n != 2 {
		t.Errorf("%d messages recorded, want 2", n)
	}
}

func TestSMTPAuth(t *testing.T) {
	srv := channeltest.StartSMTP(t, channeltest.SMTPOptions{Username: "u", Password: "p"})
	msg := []byte("Subject: test\r\n\r\nbody\r\n")
	if err := smtp.SendMail(srv.Addr, nil, "from@example.org", []string{"to@example.org"}, msg); err == nil {
		t.Error("accepted mail without AUTH")
	}
	auth := smtp.PlainAuth("", "u", "p", "127.0.0.1") // net/smtp allows PLAIN in clear to localhost
	if err := smtp.SendMail(srv.Addr, auth, "from@example.org", []string{"to@example.org"}, msg); err != nil {
		t.Fatal(err)
	}
	if got := srv.WaitMails(1, 5*time.Second)[0]; got.Auth != "u" {
		t.Errorf("Auth = %q", got.Auth)
	}
}
