package providers

import (
	"net"
	"net/http"
	"time"
)

// DefaultHTTPTimeout bounds a whole token, revoke, user-info or test call
// when NewHTTPClient is given no timeout.
const DefaultHTTPTimeout = 30 * time.Second

// NewHTTPClient returns the client for calls to providers' token, revoke,
// user-info and test endpoints: bounded at every stage and never following a
// redirect (SECURITY.md 17), so a provider answer cannot send a credential
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
