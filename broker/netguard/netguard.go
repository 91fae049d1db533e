package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// ErrRefused is wrapped by every refusal, so callers can tell a refused
// target from a malformed URL.
var ErrRefused = errors.New("netguard: address refused")

// refusal is a refused address with the range it falls in; its text names
// the range, never more of the URL than the host.
type refusal struct{ what string }

func (r *refusal) Error() string { return r.what }
func (r *refusal) Unwrap() error { return ErrRefused }

func refuse(format string, a ...any) error { return &refusal{fmt.Sprintf(format, a...)} }

// blocked are the ranges no outbound call of the broker may reach, with the
// name an error gives them. Loopback is handled apart (allowed on request).
var blocked = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local or metadata address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a relay address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("100::/64"), "a discard address"},
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) or metadata address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// embedded are IPv6 ranges that carry an IPv4 address a translator or
// relay would deliver to: the embedded address is checked too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	nat64l    = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour = netip.MustParsePrefix("2002::/16")
	compat    = netip.MustParsePrefix("::/96") // deprecated IPv4-compatible form
)

// CheckIP refuses an address in a loopback (unless allowLoopback), private,
// link-local, CGNAT, unspecified, multicast, reserved or metadata range,
// whatever form it comes in (IPv4-mapped, NAT64, 6to4, IPv4-compatible).
func CheckIP(ip netip.Addr, allowLoopback bool) error {
	if !ip.IsValid() {
		return refuse("not an IP address")
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), compat.Contains(ip) && ip != netip.IPv6Unspecified() && ip != netip.IPv6Loopback():
			if err := CheckIP(netip.AddrFrom4([4]byte(b[12:16])), allowLoopback); err != nil {
				return err
			}
		case nat64l.Contains(ip):
			return refuse("a local-use NAT64 address")
		case sixToFour.Contains(ip):
			if err := CheckIP(netip.AddrFrom4([4]byte(b[2:6])), allowLoopback); err != nil {
				return err
			}
		}
	}
	if ip.IsLoopback() {
		if allowLoopback {
			return nil
		}
		return refuse("a loopback address (allowed only with server.allowInsecureLoopback)")
	}
	for _, r := range blocked {
		if r.prefix.Contains(ip) {
			return refuse("%s", r.what)
		}
	}
	return nil
}

// metadataNames are host names cloud platforms answer with instance
// metadata (and credentials) from inside the instance.
var metadataNames = map[string]bool{
	"metadata":                   true,
	"metadata.google.internal":   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
	"metadata.azure.internal":    true,
}

// CheckHost checks a URL's host (url.URL.Hostname: brackets removed, no
// port). An IP literal is parsed the way lenient resolvers do (decimal,
// hex and octal parts, 127.1 short forms, a trailing dot) and checked with
// CheckIP; a name must have a dot, must not be localhost or under
// .localhost (unless allowLoopback, for localhost itself), nor a metadata
// service name. A name that resolves to a refused address is caught when
// dialled (Control).
func CheckHost(host string, allowLoopback bool) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return refuse("an empty host")
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return CheckIP(ip, allowLoopback)
	}
	if ip, ok, err := parseIPv4Lenient(h); ok {
		if err != nil {
			return err
		}
		return CheckIP(ip, allowLoopback)
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if allowLoopback && h == "localhost" {
			return nil
		}
		return refuse("a loopback name (localhost is allowed only with server.allowInsecureLoopback)")
	}
	if metadataNames[h] || strings.HasSuffix(h, ".internal") {
		return refuse("a cloud metadata or internal name")
	}
	if !strings.Contains(h, ".") {
		return refuse("a name without a domain (single-label names resolve on the local network)")
	}
	return nil
}

// parseIPv4Lenient reads host as inet_aton would: one to four parts, each
// decimal, 0x-hex or 0-octal, the last filling the remaining bytes. ok says
// the host looks like an IPv4 literal (its last label is numeric, which is
// how URL parsers decide); err is set when it looks like one but is not a
// valid one, which is refused rather than resolved.
func parseIPv4Lenient(h string) (netip.Addr, bool, error) {
	parts := strings.Split(h, ".")
	if !numericLabel(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil
	}
	bad := refuse("a malformed IPv4 address")
	if len(parts) > 4 {
		return netip.Addr{}, true, bad
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, err := parseIPv4Part(p)
		if err != nil {
			return netip.Addr{}, true, bad
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, true, bad
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, true, bad
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true, nil
}

func numericLabel(s string) bool {
	if s == "" {
		return false
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for _, c := range s[2:] {
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
		return true
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseIPv4Part(p string) (uint64, error) {
	switch {
	case p == "":
		return 0, errors.New("empty")
	case len(p) > 1 && (p[1] == 'x' || p[1] == 'X') && p[0] == '0':
		if len(p) == 2 {
			return 0, nil
		}
		return strconv.ParseUint(p[2:], 16, 32)
	case len(p) > 1 && p[0] == '0':
		return strconv.ParseUint(p[1:], 8, 32)
	default:
		return strconv.ParseUint(p, 10, 32)
	}
}

// CheckURL checks a URL the broker will call or show: an absolute http(s)
// URL whose port, if given, is 1–65535, whose host passes CheckHost, and
// which is https unless allowLoopback and the host is loopback.
func CheckURL(u *url.URL, allowLoopback bool) error {
	if u == nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return refuse("not an absolute http(s) URL")
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return refuse("an invalid port")
		}
	}
	host := u.Hostname()
	if err := CheckHost(host, allowLoopback); err != nil {
		return err
	}
	if u.Scheme == "http" && !(allowLoopback && IsLoopbackHost(host)) {
		return refuse("plain http (https is required; http only to loopback with server.allowInsecureLoopback)")
	}
	return nil
}

// IsLoopbackHost reports whether host is localhost or a loopback literal
// in any spelling.
func IsLoopbackHost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		var ok bool
		if ip, ok, err = parseIPv4Lenient(h); !ok || err != nil {
			return false
		}
	}
	return ip.Unmap().IsLoopback()
}

// Control returns a net.Dialer Control function that refuses to connect
// to an address CheckIP refuses: it sees the address after name
// resolution, so DNS cannot point around the registration check.
func Control(allowLoopback bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			host, _, serr := net.SplitHostPort(address)
			if serr != nil {
				return refuse("an address that is not IP:port")
			}
			ip, perr := netip.ParseAddr(host)
			if perr != nil {
				return refuse("an address that is not IP:port")
			}
			return CheckIP(ip, allowLoopback)
		}
		return CheckIP(ap.Addr(), allowLoopback)
	}
}
