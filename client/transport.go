package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Transport is the client side of the proxy for another Go service: an
// http.RoundTripper that sends each request, written against the provider's
// own API URL (so a provider SDK works unchanged), to the broker's
// /proxy/{connectionId}/… with the app's secret instead. For example, with
// Google's calendar SDK:
//
//	hc := &http.Client{Transport: &client.Transport{
//		Broker:       "http://127.0.0.1:8080",
//		ClientSecret: os.Getenv("BROKER_CLIENT_SECRET"),
//		ConnectionID: connID,
//		ProviderBase: "https://www.googleapis.com/calendar/v3",
//	}}
//	svc, _ := calendar.NewService(ctx, option.WithHTTPClient(hc))
//
// The request must be under ProviderBase; anything else is refused before
// it leaves the process, so a stray URL never carries the app's secret.
type Transport struct {
	Broker       string // the broker's base URL
	ClientSecret string // the app's secret, sent as X-Api-Key
	ConnectionID string
	// ProviderBase is the provider's API base URL, the connection's
	// provider's apiBaseUrl (docs/providers.md).
	ProviderBase string
	// Base carries the rewritten request; nil = http.DefaultTransport.
	Base http.RoundTripper
}

// ErrOutsideProviderBase is returned for a request not under ProviderBase.
var ErrOutsideProviderBase = errors.New("client: transport: request is not under the provider's API base URL")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rest, err := t.suffix(req.URL)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	broker, err := url.Parse(strings.TrimRight(t.Broker, "/"))
	if err != nil || broker.Scheme == "" || broker.Host == "" {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("client: transport: Broker %q is not an absolute URL", t.Broker)
	}
	out := req.Clone(req.Context())
	u := *broker
	u.Path = broker.Path + "/proxy/" + url.PathEscape(t.ConnectionID) + rest.path
	u.RawPath = broker.EscapedPath() + "/proxy/" + url.PathEscape(t.ConnectionID) + rest.rawPath
	u.RawQuery = req.URL.RawQuery
	out.URL = &u
	out.Host = ""
	// The SDK's own credentials are not the broker's: the broker injects
	// the connection's, and drops caller credentials anyway.
	out.Header.Del("Authorization")
	out.Header.Set(HeaderAPIKey, t.ClientSecret)
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(out)
}

type pathPart struct{ path, rawPath string }

// suffix returns the part of u below ProviderBase, as decoded and escaped
// path; u must have the base's scheme and host and sit under its path on a
// segment boundary.
func (t *Transport) suffix(u *url.URL) (pathPart, error) {
	base, err := url.Parse(strings.TrimRight(t.ProviderBase, "/"))
	if err != nil || base.Host == "" {
		return pathPart{}, fmt.Errorf("client: transport: ProviderBase %q is not an absolute URL", t.ProviderBase)
	}
	if !strings.EqualFold(u.Scheme, base.Scheme) || !strings.EqualFold(u.Host, base.Host) {
		return pathPart{}, ErrOutsideProviderBase
	}
	p, raw := u.Path, u.EscapedPath()
	bp, braw := base.Path, base.EscapedPath()
	if !strings.HasPrefix(raw, braw) || (len(raw) > len(braw) && raw[len(braw)] != '/') || !strings.HasPrefix(p, bp) {
		return pathPart{}, ErrOutsideProviderBase
	}
	rest := pathPart{path: p[len(bp):], rawPath: raw[len(braw):]}
	if rest.path == "" {
		rest = pathPart{path: "/", rawPath: "/"}
	}
	return rest, nil
}
