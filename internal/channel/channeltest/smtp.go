package channeltest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one message an SMTP server accepted: the envelope (RFC 5321 MAIL FROM and RCPT TO)
// and the message exactly as the client sent it in DATA (RFC 5322 headers and body, CRLF line
// ends, dot-stuffing undone).
type Mail struct {
	From string
	To   []string
	Data []byte
	TLS  bool   // the session was under TLS (after STARTTLS)
	Auth string // the user name the client authenticated as, "" without AUTH
}

// SMTPOptions configures an SMTP server for tests. The zero value is a plain server that
// accepts every message without authentication.
type SMTPOptions struct {
	// TLS offers STARTTLS (RFC 3207) with a self-signed certificate for 127.0.0.1 and
	// localhost; clients trust it through SMTP.CertPool.
	TLS bool
	// Username and Password, when set, make the server require AUTH PLAIN (RFC 4954, RFC
	// 4616) before MAIL FROM. Without TLS, authentication is allowed over the plain connection.
	Username, Password string
}

// SMTP is a real SMTP server (github.com/emersion/go-smtp) on a loopback port of the test's
// own. It records every message it accepts, can be told to refuse a recipient, and can be
// stopped and started again on the same port to test outages.
type SMTP struct {
	// Addr is the server's "127.0.0.1:port"; it stays the same across Stop and Start.
	Addr string

	t     testing.TB
	opts  SMTPOptions
	tls   *tls.Config
	pool  *x509.CertPool
	logMu sync.Mutex // held while the server logs to the test, and while done is set
	done  bool       // the test has ended: its log is closed (under logMu)

	mu      sync.Mutex
	srv     *smtp.Server
	mails   []Mail
	refuse  map[string]int // recipient (lower case) → reply code
	arrived chan struct{}  // closed and replaced whenever a mail is recorded
}

// StartSMTP starts an SMTP server on a free loopback port and stops it when the test ends.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	s := &SMTP{t: t, opts: o, refuse: map[string]int{}, arrived: make(chan struct{})}
	if o.TLS {
		cert, pool, err := selfSigned()
		if err != nil {
			t.Fatalf("smtp server certificate: %v", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.pool = pool
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp server listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.serve(l)
	t.Cleanup(func() {
		// under logMu: a log line the server is writing finishes first, none starts after
		s.logMu.Lock()
		s.done = true
		s.logMu.Unlock()
		s.Stop()
	})
	return s
}

// CertPool returns a pool holding the server's certificate (nil without TLS), for a client's
// tls.Config.RootCAs.
func (s *SMTP) CertPool() *x509.CertPool { return s.pool }

// Refuse makes the server answer RCPT TO:<addr> with code: 550 (mailbox unavailable, a
// permanent failure) or 451 (local error, try again later), both from RFC 5321 §4.2.2. Code 0
// accepts the address again.
func (s *SMTP) Refuse(addr string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.refuse, strings.ToLower(addr))
		return
	}
	s.refuse[strings.ToLower(addr)] = code
}

// Stop closes the listener and every open connection. Stopping a stopped server does nothing.
func (s *SMTP) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Start listens again on the same port after Stop. It fails the test when the port was taken
// in between.
func (s *SMTP) Start() {
	s.t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		return
	}
	var l net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		// The old socket may linger for a moment after Close; try again until the deadline.
		if l, err = net.Listen("tcp", s.Addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtp server restart on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

func (s *SMTP) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, tls := c.TLSConnectionState()
		return &smtpSession{srv: s, tls: tls}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = s.tls
	srv.AllowInsecureAuth = !s.opts.TLS
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.ErrorLog = testLogger{s}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go srv.Serve(l)
}

// Mails returns a copy of the messages accepted so far, in order of arrival.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// WaitMails waits until at least n messages have arrived and returns them; it fails the test
// after timeout.
func (s *SMTP) WaitMails(n int, timeout time.Duration) []Mail {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		got, arrived := len(s.mails), s.arrived
		s.mu.Unlock()
		if got >= n {
			return s.Mails()
		}
		select {
		case <-arrived:
		case <-deadline:
			s.t.Fatalf("smtp server: %d messages arrived within %v, want %d", got, timeout, n)
		}
	}
}

func (s *SMTP) record(m Mail) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mails = append(s.mails, m)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

func (s *SMTP) refused(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refuse[strings.ToLower(addr)]
}

// smtpSession is one SMTP session; it implements smtp.AuthSession.
type smtpSession struct {
	srv    *SMTP
	tls    bool
	authed string
	from   string
	to     []string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (s *smtpSession) AuthMechanisms() []string {
	if s.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.srv.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.srv.opts.Username || password != s.srv.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Invalid credentials"}
		}
		s.authed = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.opts.Username != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch code := s.srv.refused(to); {
	case code >= 500:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Mailbox unavailable"}
	case code >= 400:
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error, try again later"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	s.srv.record(Mail{From: s.from, To: append([]string(nil), s.to...), Data: b.Bytes(), TLS: s.tls, Auth: s.authed})
	return nil
}

func (s *smtpSession) Reset() { s.from, s.to = "", nil }

func (s *smtpSession) Logout() error { return nil }

// testLogger sends the server's own error log to the test's log while the test runs.
type testLogger struct{ s *SMTP }

func (l testLogger) Printf(format string, v ...any) {
	l.s.logMu.Lock()
	defer l.s.logMu.Unlock()
	if !l.s.done {
		l.s.t.Logf("smtp server: "+format, v...)
	}
}

func (l testLogger) Println(v ...any) {
	l.s.logMu.Lock()
	defer l.s.logMu.Unlock()
	if !l.s.done {
		l.s.t.Log(append([]any{"smtp server:"}, v...)...)
	}
}

// selfSigned makes a certificate for 127.0.0.1 and localhost, valid for a day.
func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "channeltest smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}
