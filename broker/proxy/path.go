package proxy

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/oauthbroker/broker/broker/model"
)

// upstreamBase is a provider's API base URL, parsed once. Paths are kept
// both decoded and escaped, without a trailing slash, so a target path is
// base + "/" + segments.
type upstreamBase struct {
	scheme, host string
	path         string // decoded, e.g. "/calendar/v3" or ""
	rawPath      string // escaped form of path
	rawPrefix    string // rawPath + "/": every target's escaped path starts with it
}

// parseBase parses a provider's APIBaseURL. Query, fragment and userinfo
// are refused: the base is an origin and a path, nothing a caller could
// extend.
func parseBase(s string) (*upstreamBase, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("proxy: API base URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("proxy: API base URL %q is not an http(s) origin with a path", s)
	}
	raw := strings.TrimRight(u.EscapedPath(), "/")
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return nil, fmt.Errorf("proxy: API base URL path: %w", err)
	}
	return &upstreamBase{scheme: u.Scheme, host: u.Host, path: dec, rawPath: raw, rawPrefix: raw + "/"}, nil
}

// errBadPath is the answer to every path the proxy refuses; the message
// names the rule, never echoes the path back.
func errBadPath(reason string) error {
	return &model.Error{Code: model.CodeInvalidArgument, Field: "path", Message: "proxy path refused: " + reason}
}

// buildPath turns the caller's escaped path suffix (what follows
// /proxy/{connectionId}, "" or starting with "/") into the upstream path, in
// decoded and escaped form (docs/security.md §8). Each segment is decoded exactly
// once; ".", "..", segments holding '/', '\\', NUL or control characters
// after that decoding (or after NFKC normalisation), invalid UTF-8, and empty
// segments other than a trailing one (a trailing slash matters to CalDAV
// collections) are refused. Each segment is
// then re-escaped and joined under the base path, so the result can only
// name something under the base.
func buildPath(b *upstreamBase, suffix string) (path, rawPath string, err error) {
	if suffix == "" || suffix == "/" {
		return b.path + "/", b.rawPrefix, nil
	}
	if suffix[0] != '/' {
		return "", "", errBadPath("must start with /")
	}
	rest := suffix[1:]
	simple := true // no '%' and nothing to escape: decoded == escaped == raw
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c != '/' && !segmentSafe(c) {
			simple = false
			break
		}
	}
	if simple {
		if err := checkSegments(rest); err != nil {
			return "", "", err
		}
		rawPath = b.rawPrefix + rest
		if b.path == b.rawPath {
			return rawPath, rawPath, nil
		}
		return b.path + "/" + rest, rawPath, nil
	}
	return buildPathSlow(b, rest)
}

// checkSegments validates a path whose bytes are all safe: only the dot and
// empty-segment rules can fail.
func checkSegments(rest string) error {
	for {
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if err := checkSegment(seg, i < 0); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
}

func buildPathSlow(b *upstreamBase, rest string) (string, string, error) {
	var dec, esc strings.Builder
	dec.Grow(len(b.path) + 1 + len(rest))
	esc.Grow(len(b.rawPrefix) + len(rest) + 16)
	dec.WriteString(b.path)
	dec.WriteByte('/')
	esc.WriteString(b.rawPrefix)
	first := true
	for {
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		d, err := url.PathUnescape(seg)
		if err != nil {
			return "", "", errBadPath("malformed percent-encoding")
		}
		if err := checkSegment(d, i < 0); err != nil {
			return "", "", err
		}
		if !first {
			dec.WriteByte('/')
			esc.WriteByte('/')
		}
		first = false
		dec.WriteString(d)
		writeEscaped(&esc, d)
		if i < 0 {
			break
		}
		rest = rest[i+1:]
	}
	return dec.String(), esc.String(), nil
}

// checkSegment validates one decoded segment. last says whether it is the
// final one, which may be empty (a trailing slash).
func checkSegment(d string, last bool) error {
	if d == "" {
		if last {
			return nil
		}
		return errBadPath("empty segment")
	}
	if err := checkSegmentRules(d); err != nil {
		return err
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			return checkSegmentUnicode(d)
		}
	}
	return nil
}

// checkSegmentUnicode holds a non-ASCII segment to the same rules as seen
// by a server that decodes leniently or normalises: it must be valid UTF-8
// (so no overlong form of '.' or '/', like %C0%AE), and its compatibility
// normalisation (NFKC, which turns U+FF0E or U+2024 into '.' and U+FF0F
// into '/') must pass checkSegmentRules too.
func checkSegmentUnicode(d string) error {
	if !utf8.ValidString(d) {
		return errBadPath("not UTF-8")
	}
	if n := norm.NFKC.String(d); n != d {
		return checkSegmentRules(n)
	}
	return nil
}

// checkSegmentRules applies the dot-segment, separator and control
// character rules to a non-empty decoded segment.
func checkSegmentRules(d string) error {
	// A segment whose part before ';' is a dot segment is refused too:
	// servers that strip path parameters (";jsessionid") would see "..".
	head := d
	if i := strings.IndexByte(d, ';'); i >= 0 {
		head = d[:i]
	}
	if head == "." || head == ".." {
		return errBadPath("dot segment")
	}
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c == '/' || c == '\\':
			return errBadPath("encoded slash or backslash")
		case c < 0x20 || c == 0x7f:
			return errBadPath("control character")
		}
	}
	return nil
}

// segmentSafe reports whether c may appear unescaped in an upstream path
// segment: RFC 3986 pchar without ';' (path parameters) and without '%'
// (every '%' is an escape, decoded once and re-escaped).
func segmentSafe(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	switch c {
	case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', '=', ':', '@':
		return true
	}
	return false
}

const upperHex = "0123456789ABCDEF"

func writeEscaped(sb *strings.Builder, d string) {
	for i := 0; i < len(d); i++ {
		c := d[i]
		if segmentSafe(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(upperHex[c>>4])
		sb.WriteByte(upperHex[c&15])
	}
}

// suffixAfter returns the still-escaped part of escapedPath after the
// segments "proxy" and connID (compared decoded), wherever the proxy route
// is mounted. ok is false when the path has no such segments.
func suffixAfter(escapedPath, connID string) (suffix string, ok bool) {
	rest := escapedPath
	prevProxy := false
	for len(rest) > 0 {
		if rest[0] != '/' {
			return "", false
		}
		rest = rest[1:]
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if prevProxy && segEquals(seg, connID) {
			if i < 0 {
				return "", true
			}
			return rest[i:], true
		}
		prevProxy = segEquals(seg, "proxy")
		if i < 0 {
			return "", false
		}
		rest = rest[i:]
	}
	return "", false
}

// segEquals compares an escaped segment with a plain string, decoding only
// when the segment holds an escape.
func segEquals(seg, want string) bool {
	if seg == want {
		return true
	}
	if strings.IndexByte(seg, '%') < 0 {
		return false
	}
	d, err := url.PathUnescape(seg)
	return err == nil && d == want
}
