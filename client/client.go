package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HeaderAPIKey carries the app's secret to the broker.
const HeaderAPIKey = "X-Api-Key"

// HeaderBrokerError marks an answer the broker produced itself (as opposed
// to one a provider produced and the proxy passed through).
const HeaderBrokerError = "X-Broker-Error"

// DefaultTimeout bounds one API call when New is given no *http.Client.
const DefaultTimeout = 30 * time.Second

// maxResponse bounds what is read of one API answer.
const maxResponse = 8 << 20

// Client calls the broker's app API as one app. It is safe for concurrent
// use.
type Client struct {
	base   *url.URL
	secret string
	hc     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its calls through hc instead of its
// own client (timeout DefaultTimeout, redirects not followed).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// New returns a client of the broker at brokerURL (for example
// "http://127.0.0.1:8080") authenticating with the app's clientSecret.
func New(brokerURL, clientSecret string, opts ...Option) (*Client, error) {
	u, err := parseBase(brokerURL)
	if err != nil {
		return nil, err
	}
	if clientSecret == "" {
		return nil, errors.New("client: the app's client secret is empty")
	}
	c := &Client{base: u, secret: clientSecret, hc: &http.Client{
		Timeout: DefaultTimeout,
		// The broker answers the API without redirects; following one
		// would carry the secret elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: broker URL %q is not an absolute http(s) URL without query", raw)
	}
	return u, nil
}

// Transport returns the RoundTripper that sends requests written against
// providerBase (the connection's provider's API base URL) through the
// broker's /proxy for connectionID, over the client's own transport.
func (c *Client) Transport(connectionID, providerBase string) *Transport {
	return &Transport{Broker: c.base.String(), ClientSecret: c.secret, ConnectionID: connectionID,
		ProviderBase: providerBase, Base: c.hc.Transport}
}

// Error is an error the broker answered with: the error envelope
// {"error":{"code","message","field"}} and its HTTP status. Code is one of
// the Code constants; it is empty when something in front of the broker
// answered without the envelope.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string // the request field it is about, when there is one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("broker: %d %s", e.Status, e.Code)
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Error codes of the broker's API (docs/api.md).
const (
	CodeInvalidArgument     = "invalid_argument"
	CodeUnauthenticated     = "unauthenticated"
	CodePermissionDenied    = "permission_denied"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeNeedsReauth         = "needs_reauth"
	CodePayloadTooLarge     = "payload_too_large"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	CodeUpstreamUnavailable = "upstream_unavailable"
	CodeUnavailable         = "unavailable"
	CodeUpstreamTimeout     = "upstream_timeout"
)

// ErrorCode is the broker's code of err ("" when err is not an *Error).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// do sends one API call: in (when not nil) as the JSON body, the answer
// decoded into out (when not nil). A non-2xx answer is an *Error.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawPath = ""
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set(HeaderAPIKey, c.secret)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("client: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// decodeError reads the error envelope; an answer without one (a proxy in
// front of the broker) keeps its status and says so.
func decodeError(status int, raw []byte) error {
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &env) != nil || env.Error.Code == "" {
		return &Error{Status: status, Message: "the answer is not the broker's error envelope"}
	}
	return &Error{Status: status, Code: env.Error.Code, Message: env.Error.Message, Field: env.Error.Field}
}
