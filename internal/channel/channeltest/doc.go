// Package channeltest starts the real servers that Rabta's channels talk to, on loopback
// ports of the test's own, for tests: Kannel's bearerbox and smsbox with the fake SMSC
// (kannel.go), an SMPP 3.4 server built on the npm smpp package (smsc.go), and an SMTP
// server built on github.com/emersion/go-smtp (smtp.go). Each records what it received, so
// that tests count at the receiving side, and can be stopped and restarted to test outages.
//
// The binaries come from scripts/test.sh (Debian's kannel and kannel-extras; npm ci in
// scripts/smsc). Without them a test is skipped, except under CI (CI set), where it fails.
package channeltest
