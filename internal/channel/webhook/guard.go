package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrInternalAddress is the error of a delivery to an endpoint whose address is in an internal
// network (see Internal) that Options.AllowNetworks does not list. It is permanent: the address
// is the subscriber's, and retrying would not change it.
var ErrInternalAddress = errors.New("address in an internal network")

// internal are the networks a partner's public endpoint is never in: reaching them from a
// subscriber's URL is server-side request forgery into the node's own network (its database,
// its bus, a cloud provider's metadata service). IANA special-purpose registries (RFC 6890).
var internal = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network" (RFC 791); 0.0.0.0 reaches the host itself
	netip.MustParsePrefix("10.0.0.0/8"),     // private (RFC 1918)
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT (RFC 6598)
	netip.MustParsePrefix("127.0.0.0/8"),    // loopback
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata services (169.254.169.254)
	netip.MustParsePrefix("172.16.0.0/12"),  // private (RFC 1918)
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"), // private (RFC 1918)
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking (RFC 2544)
	netip.MustParsePrefix("224.0.0.0/4"),    // multicast
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and broadcast
	netip.MustParsePrefix("::/128"),         // unspecified
	netip.MustParsePrefix("::1/128"),        // loopback
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use IPv4/IPv6 translation (RFC 8215)
	netip.MustParsePrefix("fc00::/7"),       // unique local (RFC 4193)
	netip.MustParsePrefix("fe80::/10"),      // link-local
	netip.MustParsePrefix("ff00::/8"),       // multicast
}

// Internal reports whether ip is in a network no public endpoint is in: loopback, private
// (RFC 1918, RFC 4193), carrier-grade NAT, link-local (and so cloud metadata), unspecified,
// multicast or reserved. IPv4 addresses written as IPv6 (::ffff:10.0.0.1) count as IPv4.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range internal {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// guard returns a net.Dialer Control function that refuses connections to internal addresses
// outside allow. It runs on the address the connection is about to use, after name
// resolution: a name that resolves to an internal address, or changes its answer between a
// check and the connection (DNS rebinding), is refused all the same.
func guard(allow []netip.Prefix) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("webhook: dial %s: %w", address, err)
		}
		ip := ap.Addr().Unmap()
		if !Internal(ip) {
			return nil
		}
		for _, p := range allow {
			if p.Contains(ip) {
				return nil
			}
		}
		return fmt.Errorf("webhook: %s: %w (allow it with the webhook_allow_networks setting)", ip, ErrInternalAddress)
	}
}

// guardedTransport is a clone of http.DefaultTransport whose dialer refuses internal addresses
// outside allow, and which ignores proxies from the environment (a proxy would make the
// connection, and the check, on the endpoint's behalf).
func guardedTransport(allow []netip.Prefix) *http.Transport {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: guard(allow)}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	return t
}
