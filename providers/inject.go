package providers

import (
	"encoding/base64"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
)

// Inject puts the connection's credential on an outbound request as the
// provider says (bearer, named header, query parameter or basic) and adds
// the static headers. Each replaces whatever the request carried under that
// name (a static header the provider lets callers override, see
// CallerMayOverride, only when the request has none), so the provider sees
// exactly one credential; the credential is set
// last, so no static header can displace it. It runs on the proxy's hot
// path: beyond the header values themselves it allocates only one slice
// (and the rebuilt query for query injection).
func (p *Provider) Inject(req *http.Request, tok model.Token) {
	h := req.Header
	if h == nil {
		h = make(http.Header, len(p.Headers)+1)
		req.Header = h
	}
	typ, name := InjectBearer, ""
	if p.Spec.Inject != nil {
		typ, name = p.Spec.Inject.Type, p.Spec.Inject.Name
	} else if p.Kind == KindBasic {
		typ = InjectBasic
	}
	// One backing array for every value; each header gets a full-capacity
	// sub-slice, so an append by a later handler cannot touch a neighbour.
	vals := make([]string, len(p.Headers)+1)
	i := 0
	for k, v := range p.Headers {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		if _, set := h[ck]; set && p.CallerMayOverride(k) {
			continue // the caller asked for its own value (allowHeaders)
		}
		vals[i] = v
		h[ck] = vals[i : i+1 : i+1]
		i++
	}
	switch typ {
	case InjectBasic:
		user, pass := tok.Username, tok.Password
		if user == "" && pass == "" {
			user = tok.APIKey // an API key as the Basic user name, the usual convention
		}
		if user == "" && pass == "" {
			return
		}
		vals[i] = basicValue(user, pass)
		h["Authorization"] = vals[i : i+1 : i+1]
		return
	}
	secret := p.credential(tok)
	if secret == "" {
		return
	}
	switch typ {
	case InjectHeader:
		vals[i] = secret
		h[textproto.CanonicalMIMEHeaderKey(name)] = vals[i : i+1 : i+1]
	case InjectQuery:
		setQueryParam(req.URL, name, secret)
	default:
		vals[i] = "Bearer " + secret
		h["Authorization"] = vals[i : i+1 : i+1]
	}
}

// credential is the secret a bearer, header or query injection carries.
func (p *Provider) credential(tok model.Token) string {
	if p.Kind == KindAPIKey && tok.APIKey != "" {
		return tok.APIKey
	}
	if tok.AccessToken != "" {
		return tok.AccessToken
	}
	return tok.APIKey
}

// basicValue is "Basic base64(user:pass)", built with one allocation when
// it fits the stack buffers.
func basicValue(user, pass string) string {
	n := len(user) + 1 + len(pass)
	enc := base64.StdEncoding.EncodedLen(n)
	var srcBuf [192]byte
	var dstBuf [256]byte
	src := srcBuf[:0]
	if n > len(srcBuf) {
		src = make([]byte, 0, n)
	}
	src = append(src, user...)
	src = append(src, ':')
	src = append(src, pass...)
	dst := dstBuf[:]
	if enc > len(dstBuf) {
		dst = make([]byte, enc)
	}
	base64.StdEncoding.Encode(dst[:enc], src)
	var b strings.Builder
	b.Grow(len("Basic ") + enc)
	b.WriteString("Basic ")
	b.Write(dst[:enc])
	return b.String()
}

// setQueryParam sets name=value on the URL's query, dropping every
// parameter the caller sent under that name (compared after decoding and
// without case, and across ';' too, which some servers treat as a
// separator), so the provider sees only the connection's credential.
func setQueryParam(u *url.URL, name, value string) {
	raw := u.RawQuery
	escName, escValue := url.QueryEscape(name), url.QueryEscape(value)
	var b strings.Builder
	b.Grow(len(raw) + len(escName) + len(escValue) + 2)
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" || segmentHasKey(seg, name) {
			continue
		}
		b.WriteString(seg)
		b.WriteByte('&')
	}
	b.WriteString(escName)
	b.WriteByte('=')
	b.WriteString(escValue)
	u.RawQuery = b.String()
}

func segmentHasKey(seg, name string) bool {
	for seg != "" {
		var part string
		part, seg, _ = strings.Cut(seg, ";")
		key, _, _ := strings.Cut(part, "=")
		if strings.EqualFold(key, name) {
			return true
		}
		if strings.ContainsAny(key, "%+") {
			k, err := url.QueryUnescape(key)
			if err != nil || strings.EqualFold(k, name) {
				return true // an undecodable key could hide the name: drop it
			}
		}
	}
	return false
}
