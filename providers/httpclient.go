package providers

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultHTTPTimeout bounds a whole token, revoke, user-info or test call
// when NewHTTPClient is given no timeout.
const DefaultHTTPTimeout = 30 * time.Second

// NewHTTPClient returns the client for calls to providers' token, revoke,
// user-info and test endpoints: bounded at every stage and never following a
// redirect (docs/security.md §17), so a provider answer cannot send a credential
// to another origin. A 3xx comes back as the response.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  min(timeout, 20*time.Second),
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     t,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// sendInjected sends a request that carries a connection's credential (see
// Inject). A transport error names the request URL; query injection put the
// credential there, so the error names the endpoint without its query
// (docs/security.md §15) and keeps its cause for errors.Is and errors.As.
func sendInjected(hc *http.Client, req *http.Request) (*http.Response, error) {
	resp, err := httpClient(hc).Do(req)
	var ue *url.Error
	if err != nil && errors.As(err, &ue) {
		u := *req.URL
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return resp, &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
	}
	return resp, err
}
