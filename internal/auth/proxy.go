package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarded headers, which only a trusted proxy may set.
var forwarded = []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"}

// Proxies makes a request say only what Rabta can trust about where it came from and how it was
// reached, before anything counts its source (the failed-authentication limit) or builds an
// absolute URL from it (feed links, @iot.selfLink, @iot.nextLink, the MQTT endpoint of the
// service root):
//
//   - from a trusted proxy (the connection's peer is in trusted), the client's address becomes
//     the last address of X-Forwarded-For that is not itself a trusted proxy, the host
//     X-Forwarded-Host and the scheme X-Forwarded-Proto (http or https), where given;
//   - from anyone else the X-Forwarded-* headers (and Forwarded, X-Real-Ip) are removed and the
//     Host header is replaced by the address the connection reached (the listener's own, from
//     http.LocalAddrContextKey), so a forged Host cannot put another site's name into a link
//     that a cache may then hand to others.
//
// A node with a public URL builds its links from that instead; Proxies still decides the
// client's address.
func Proxies(trusted []netip.Prefix) func(http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			peer, err := netip.ParseAddrPort(r.RemoteAddr)
			if err == nil && len(trusted) > 0 && isTrusted(peer.Addr()) {
				r = r.Clone(r.Context())
				if c, ok := forwardedClient(r.Header.Values("X-Forwarded-For"), isTrusted); ok {
					r.RemoteAddr = netip.AddrPortFrom(c, 0).String()
				}
				if h := lastValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
					r.Host = h
				}
				if p := lastValue(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
					r.Header.Set("X-Forwarded-Proto", p)
				} else {
					r.Header.Del("X-Forwarded-Proto")
				}
				next.ServeHTTP(w, r)
				return
			}
			r = r.Clone(r.Context())
			for _, h := range forwarded {
				r.Header.Del(h)
			}
			if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
				if ap, err := netip.ParseAddrPort(la.String()); err == nil {
					r.Host = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// forwardedClient is the client address by X-Forwarded-For: walking from the right (the
// address the last proxy saw), the first one that is not a trusted proxy.
func forwardedClient(values []string, trusted func(netip.Addr) bool) (netip.Addr, bool) {
	var all []string
	for _, v := range values {
		all = append(all, strings.Split(v, ",")...)
	}
	for i := len(all) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(all[i]))
		if err != nil {
			return netip.Addr{}, false // a garbled chain: keep the proxy's own address
		}
		if !trusted(a) {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// lastValue is the last of comma-separated values (the one the nearest proxy added).
func lastValue(v string) string {
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether h is a plausible host[:port] (letters, digits, '.', '-', ':', and
// brackets for IPv6), so that a proxy passing on garbage cannot put it in a link.
func validHost(h string) bool {
	if len(h) > 255 {
		return false
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// ParseProxies parses trusted proxies: comma-separated addresses or CIDR prefixes
// ("10.0.0.0/8, 127.0.0.1"). It returns an error naming the first that does not parse.
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := ParseProxy(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseProxy parses one trusted proxy: an address (a /32 or /128) or a CIDR prefix.
func ParseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, &proxyError{s}
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, &proxyError{s}
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

type proxyError struct{ s string }

func (e *proxyError) Error() string {
	s := e.s
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("trusted proxy %q: want an IP address or a CIDR prefix like 10.0.0.0/8", s)
}
