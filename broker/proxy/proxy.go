package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/telemetry"
	"github.com/oauthbroker/broker/broker/tokens"
	"github.com/oauthbroker/broker/providers"
)

// Credentials is what the proxy needs from the token manager;
// *tokens.Manager implements it.
type Credentials interface {
	// Get returns a usable credential of the app's connection:
	// model.ErrNotFound when missing or another app's,
	// model.ErrNeedsReauth when its refresh failed for good.
	Get(ctx context.Context, appID, connID string) (*tokens.Credential, error)
	// ForceRefresh replaces an access token the provider rejected.
	ForceRefresh(ctx context.Context, appID, connID, staleAccessToken string) (*tokens.Credential, error)
}

var _ Credentials = (*tokens.Manager)(nil)

// Options configures a Proxy. Creds is required. Every value means what it
// says (broker.yaml's defaults live in package config); New refuses one
// that cannot work.
type Options struct {
	Creds Credentials
	// Timeout bounds the whole upstream call, streaming of both bodies
	// included (proxy.timeout); positive.
	Timeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers once the request is written (ignored when Transport is set;
	// 0 = no bound of its own, as in net/http).
	ResponseHeaderTimeout time.Duration
	// MaxRequestBody is the largest request body the proxy forwards
	// (proxy.maxRequestBody); positive.
	MaxRequestBody int64
	// RetryBodyLimit: request bodies up to this size are buffered so that a
	// 401 can be retried once after a forced refresh; larger ones stream
	// and are not retried (proxy.retryBodyLimit). 0: never buffer, only
	// bodyless requests are retried.
	RetryBodyLimit int64
	// Logger receives the proxy's warnings; nil = none.
	Logger *slog.Logger
	// PublicURL is the broker's public URL (server.publicUrl): a WebDAV
	// Destination written in the broker's terms must be under it.
	PublicURL string
	// MaxResponseHeaderBytes bounds a provider's response headers (ignored
	// when Transport is set; NewTransport takes it).
	MaxResponseHeaderBytes int64
	// Transport talks to the providers; default NewTransport. It must not
	// follow redirects (an http.RoundTripper never does).
	Transport http.RoundTripper
}

// Proxy is the credential-injecting reverse proxy: one
// httputil.ReverseProxy, built once, shared by every request.
type Proxy struct {
	opts       Options // as given, for Options
	creds      Credentials
	rp         *httputil.ReverseProxy
	timeout    time.Duration
	maxBody    int64
	retryLimit int64
	log        *slog.Logger
	sweep      *sweeper // the deadlines of the calls in flight
	upstreams  sync.Map // *providers.Provider -> *upstream
	// public and publicPath: the broker's public URL, for Destination.
	public     *url.URL
	publicPath string
}

// upstream is what the proxy derives once from a provider.
type upstream struct {
	base *upstreamBase
	err  error
	// allow is the caller's headers that pass (docs/security.md §9).
	allow allowSet
	oauth bool
}

// New builds a Proxy. A missing Creds or a bound that cannot work is an
// error; nothing is replaced by a default.
func New(o Options) (*Proxy, error) {
	switch {
	case o.Creds == nil:
		return nil, errors.New("proxy: Creds is required")
	case o.Timeout <= 0:
		return nil, fmt.Errorf("proxy: Timeout %s: must be positive", o.Timeout)
	case o.MaxRequestBody <= 0:
		return nil, fmt.Errorf("proxy: MaxRequestBody %d: must be positive", o.MaxRequestBody)
	case o.RetryBodyLimit < 0 || o.ResponseHeaderTimeout < 0 || o.MaxResponseHeaderBytes < 0:
		return nil, errors.New("proxy: RetryBodyLimit, ResponseHeaderTimeout and MaxResponseHeaderBytes must not be negative")
	}
	p := &Proxy{
		opts: o, creds: o.Creds, timeout: o.Timeout, maxBody: o.MaxRequestBody,
		retryLimit: o.RetryBodyLimit, log: o.Logger,
	}
	p.sweep = &sweeper{timeout: p.timeout, tick: sweepTick(p.timeout)}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if u, err := url.Parse(o.PublicURL); err == nil && u.Host != "" {
		p.public, p.publicPath = u, strings.TrimRight(u.EscapedPath(), "/")
	}
	base := o.Transport
	if base == nil {
		base = NewTransport(o.ResponseHeaderTimeout, o.MaxResponseHeaderBytes)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      &retryTransport{p: p, base: base},
		BufferPool:     bufPool,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		// FlushInterval 0: a response with a Content-Length is written
		// through the server's buffer in 32 KiB chunks without a flush per
		// chunk; ReverseProxy itself flushes every write of a response of
		// unknown length or of text/event-stream, so streams are not held.
	}
	return p, nil
}

// Options are the options the Proxy runs with, read back from what it
// uses, so a value replaced on the way would show.
func (p *Proxy) Options() Options {
	o := p.opts
	o.Creds, o.Timeout, o.MaxRequestBody, o.RetryBodyLimit = p.creds, p.timeout, p.maxBody, p.retryLimit
	return o
}

// call is one proxied request's state, carried from ServeProxy to Rewrite
// and the transport by the request context (it is that context, see
// deadline.go).
type call struct {
	callCtx
	cred          *tokens.Credential
	up            *upstream
	path, rawPath string
	// dest is the confined, rewritten Destination header ("" = none).
	dest string
	// replayable: a 401 may be retried; replay is the buffered body (nil
	// for a bodyless request).
	replayable bool
	replay     []byte
	// w is the caller's response; own1xx serves hookInterim (transport.go).
	w      http.ResponseWriter
	own1xx http.Header
}

type ctxKey struct{}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(ctxKey{}).(*call)
	return c
}

// ServeProxy forwards r to the API of connection connID of app appID, the
// app being already authenticated and allowed to proxy. The upstream path
// is what follows /proxy/{connID} in r's escaped path, wherever the route
// is mounted.
func (p *Proxy) ServeProxy(w http.ResponseWriter, r *http.Request, appID, connID string) {
	suffix, ok := suffixAfter(r.URL.EscapedPath(), connID)
	if !ok {
		writeError(w, errBadPath("expected /proxy/{connectionId}/{path}"))
		return
	}
	if r.ContentLength > p.maxBody {
		writeError(w, errTooLarge(p.maxBody))
		return
	}
	cred, err := p.creds.Get(r.Context(), appID, connID)
	if err != nil {
		p.credError(w, connID, err)
		return
	}
	if telemetry.Recording(r.Context()) {
		telemetry.Annotate(r.Context(), telemetry.AttrProvider.String(cred.Provider.ID))
	}
	up := p.upstream(cred.Provider)
	if up.err != nil {
		p.log.Error("proxy: provider has no usable API base URL", "provider", cred.Provider.ID, "err", up.err)
		writeError(w, model.Errorf(model.CodeInternal, "the provider has no usable API base URL"))
		return
	}
	c := &call{cred: cred, up: up, w: w}
	if c.path, c.rawPath, err = buildPath(up.base, suffix); err != nil {
		writeError(w, err)
		return
	}
	if c.path == c.rawPath {
		c.rawPath = ""
	}
	if c.dest, err = p.confineHeaders(r.Header, connID, up.base); err != nil {
		writeError(w, err)
		return
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	if hasBody {
		r2 := *r // the caller's request stays as it was
		r2.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
		r = &r2
	}
	c.replayable = up.oauth && !hasBody
	if up.oauth && hasBody && p.retryLimit > 0 {
		if err := p.bufferForRetry(c, r); err != nil {
			writeError(w, err)
			return
		}
	}
	p.sweep.begin(c, r.Context())
	defer p.sweep.finish(c)
	p.rp.ServeHTTP(w, r.WithContext(c))
}

// bufferForRetry reads a body of at most retryLimit bytes so a 401 can be
// replayed; a longer one (known only when its length is not sent) streams
// on with the part already read put back in front.
func (p *Proxy) bufferForRetry(c *call, r *http.Request) error {
	if r.ContentLength > p.retryLimit {
		return nil
	}
	var buf []byte
	var err error
	if r.ContentLength > 0 {
		buf = make([]byte, r.ContentLength)
		_, err = io.ReadFull(r.Body, buf)
	} else {
		buf, err = io.ReadAll(io.LimitReader(r.Body, p.retryLimit+1))
	}
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errTooLarge(p.maxBody)
		}
		return model.Errorf(model.CodeInvalidArgument, "the request body could not be read")
	}
	if int64(len(buf)) > p.retryLimit {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
		return nil
	}
	_ = r.Body.Close()
	c.replay, c.replayable = buf, true
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.ContentLength = int64(len(buf))
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// upstream returns the provider's derived settings, computed once.
func (p *Proxy) upstream(pr *providers.Provider) *upstream {
	if v, ok := p.upstreams.Load(pr); ok {
		return v.(*upstream)
	}
	up := &upstream{oauth: pr.Kind == providers.KindOAuth2}
	up.base, up.err = parseBase(pr.APIBaseURL)
	// The broker's own headers for this provider: the credential header,
	// and static headers the caller may not override.
	var own []string
	if pr.Spec.Inject != nil && pr.Spec.Inject.Type == providers.InjectHeader && pr.Spec.Inject.Name != "" {
		own = append(own, pr.Spec.Inject.Name)
	}
	for name := range pr.Headers {
		if !pr.CallerMayOverride(name) {
			own = append(own, name)
		}
	}
	up.allow = newAllowSet(pr.RequestHeaders(), own)
	v, _ := p.upstreams.LoadOrStore(pr, up)
	return v.(*upstream)
}

// rewrite builds the outbound request: the provider's origin, the confined
// path, the caller's query, filtered headers and the connection's
// credential. It does not call SetXForwarded: the provider learns nothing
// about the caller.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	c := callFrom(pr.In.Context())
	out := pr.Out
	u := out.URL
	u.Scheme, u.Host = c.up.base.scheme, c.up.base.host
	u.Path, u.RawPath = c.path, c.rawPath
	u.Opaque, u.User, u.Fragment, u.RawFragment, u.ForceQuery = "", nil, "", "", false
	out.Host = "" // the Host header comes from the URL: the provider's
	filterHeaders(out.Header, pr.In.Header["Connection"], c.up.allow)
	if c.dest != "" {
		out.Header["Destination"] = []string{c.dest}
	}
	c.cred.Provider.Inject(out, c.cred.Token)
}

// Values the proxy sets on every proxied response, shared (ReverseProxy
// copies values, never appends to them).
var (
	nosniff     = []string{"nosniff"}
	sandboxCSP  = []string{"sandbox; default-src 'none'; frame-ancestors 'none'"}
	octetStream = []string{"application/octet-stream"}
)

// modifyResponse makes what the provider sent inert on the broker's origin
// (docs/security.md §10): cookies and X-Broker-Error go, nosniff and a
// sandboxing CSP (replacing the provider's) come on, and a body without a
// Content-Type is labelled application/octet-stream so that Go's server
// does not sniff it into text/html.
func modifyResponse(resp *http.Response) error {
	dropResponseHeaders(resp.Header)
	h := resp.Header
	h["X-Content-Type-Options"] = nosniff
	h["Content-Security-Policy"] = sandboxCSP
	delete(h, "Content-Security-Policy-Report-Only")
	// ReverseProxy adds these to what the caller's writer already holds, so
	// a copy the caller's stack set there (the broker's NoSniff) would go
	// out twice: on a proxied answer they are the proxy's alone.
	if c := callFrom(resp.Request.Context()); c != nil {
		w := c.w.Header()
		delete(w, "X-Content-Type-Options")
		delete(w, "Content-Security-Policy")
	}
	if _, ok := h["Content-Type"]; !ok && resp.ContentLength != 0 &&
		resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		h["Content-Type"] = octetStream
	}
	// Trailers reach the caller too (ReverseProxy copies them after the
	// body), so the same headers are dropped there: the declared ones now,
	// before they are announced, and whatever arrives when the body ends.
	// Only a response of unknown length or over HTTP/2 can carry them, and a
	// 101's body must stay the connection it is.
	if resp.StatusCode != http.StatusSwitchingProtocols && (resp.ContentLength < 0 || resp.ProtoMajor >= 2 || len(resp.Trailer) > 0) {
		dropResponseHeaders(resp.Trailer)
		resp.Body = &trailerFilter{ReadCloser: resp.Body, resp: resp}
	}
	return nil
}

// trailerFilter drops forbidden trailers once the body is read to its end,
// when the transport has filled resp.Trailer.
type trailerFilter struct {
	io.ReadCloser
	resp *http.Response
}

func (f *trailerFilter) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err == io.EOF {
		dropResponseHeaders(f.resp.Trailer)
	}
	return n, err
}

func (f *trailerFilter) Close() error {
	err := f.ReadCloser.Close()
	dropResponseHeaders(f.resp.Trailer) // ReverseProxy reads trailers after Close
	return err
}

func errTooLarge(limit int64) error {
	return &model.Error{Code: model.CodePayloadTooLarge, Message: fmt.Sprintf("the request body exceeds %d bytes", limit), Err: model.ErrPayloadTooLarge}
}
