package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// NewTransport returns the transport the proxy uses by default, tuned for
// many requests to few hosts: keep-alive with a large idle pool per host, no
// cap on connections per host, HTTP/2 when the provider offers it, bounded
// dial, TLS handshake and response-header waits, no proxy from the
// environment, and no transparent gzip (Accept-Encoding and compressed
// bodies pass through untouched). A RoundTripper never follows redirects.
//
// maxResponseHeaderBytes bounds the provider's response headers (0: Go's
// default of 1 MiB); over it the call fails and the caller gets the
// broker's 502, so no provider can make the broker buffer large heads.
func NewTransport(responseHeaderTimeout time.Duration, maxResponseHeaderBytes int64) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		MaxConnsPerHost:        0,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  responseHeaderTimeout,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		DisableCompression:     true,
		// Read and write buffers stay at 4 KiB: bodies are copied through
		// the 32 KiB pooled buffer, which bufio bypasses for large reads,
		// and each idle connection keeps its buffers.
	}
}

// errLeftBase is the defence behind buildPath: an outbound URL that is not
// on the provider's origin under its base path is never sent.
var errLeftBase = errors.New("proxy: outbound URL left the provider's base")

// retryTransport sends the proxied request and, when an OAuth provider
// answers 401 to a request that can be replayed, forces one refresh of the
// connection's token and retries once with the new token. It never loops:
// the retry's answer is returned whatever it is.
type retryTransport struct {
	p    *Proxy
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := callFrom(req.Context())
	if c == nil || !c.up.base.contains(req) {
		return nil, errLeftBase
	}
	c.hookInterim(req.Context()) // once: a retry goes to t.base directly
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !c.replayable {
		return resp, err
	}
	stale := c.cred.Token.AccessToken
	fresh, ferr := t.p.creds.ForceRefresh(req.Context(), c.cred.AppID, c.cred.ConnectionID, stale)
	if errors.Is(ferr, model.ErrNeedsReauth) {
		// The grant is dead for good: say so now rather than pass on a
		// 401 the app cannot act on.
		_ = resp.Body.Close()
		return nil, ferr
	}
	if ferr != nil || fresh.Token.AccessToken == "" || fresh.Token.AccessToken == stale {
		// Nothing better to send (the refresh failed for now, or the
		// cooldown since the last forced refresh has not passed): the
		// caller gets the provider's 401.
		t.p.log.Info("proxy: 401 from provider, no fresh token to retry with",
			"connection", c.cred.ConnectionID, "provider", c.cred.Provider.ID, "err", ferr)
		return resp, nil
	}
	// Drain a little so the connection can be reused, then drop the 401.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()

	retry := req.Clone(req.Context())
	retry.Body, retry.ContentLength = nil, 0
	if c.replay != nil {
		retry.Body, retry.ContentLength = io.NopCloser(bytes.NewReader(c.replay)), int64(len(c.replay))
	}
	filterHeaders(retry.Header, nil, c.up.allow) // the old credential goes
	fresh.Provider.Inject(retry, fresh.Token)
	if !c.up.base.contains(retry) {
		return nil, errLeftBase
	}
	t.p.log.Debug("proxy: retrying after 401 with a refreshed token", "connection", c.cred.ConnectionID)
	return t.base.RoundTrip(retry)
}

// hookInterim makes a provider's interim (1xx) answers inert
// (docs/security.md §10). ReverseProxy forwards each one from a trace hook
// it makes per request: it copies the provider's headers onto the
// caller's response, cookies and X-Broker-Error included (modifyResponse
// only ever sees the final answer), writes the 1xx, then clears the
// caller's headers, the broker's own X-Request-Id with them. Its hook is
// wrapped here, before the transport reads it: a 1xx reaches the caller as
// its status with the broker's headers only, and those are put back for
// the final answer.
func (c *call) hookInterim(ctx context.Context) {
	tr := httptrace.ContextClientTrace(ctx)
	if tr == nil || tr.Got1xxResponse == nil {
		return
	}
	forward := tr.Got1xxResponse
	tr.Got1xxResponse = func(code int, h textproto.MIMEHeader) error {
		clear(h)
		own := c.w.Header()
		if c.own1xx == nil {
			c.own1xx = own.Clone()
		}
		err := forward(code, h)
		for k, v := range c.own1xx {
			own[k] = v
		}
		return err
	}
}

// contains reports whether r goes to the base's origin, under its path.
func (b *upstreamBase) contains(r *http.Request) bool {
	u := r.URL
	return u.Scheme == b.scheme && u.Host == b.host && r.Host == "" && u.User == nil &&
		strings.HasPrefix(u.EscapedPath(), b.rawPrefix)
}

// bufSize is the copy buffer of both body directions.
const bufSize = 32 << 10

// bufferPool hands the ReverseProxy pooled 32 KiB copy buffers. It pools
// array pointers, so neither Get nor Put allocates.
type bufferPool struct{ pool sync.Pool }

var bufPool = &bufferPool{}

func (b *bufferPool) Get() []byte {
	if v, ok := b.pool.Get().(*[bufSize]byte); ok {
		return v[:]
	}
	return new([bufSize]byte)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < bufSize {
		return
	}
	b.pool.Put((*[bufSize]byte)(buf[:bufSize]))
}
