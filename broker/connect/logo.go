package connect

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/oauthbroker/broker/broker/netguard"
)

// Logo fetching for the hosted page, which may load nothing from elsewhere
// (its CSP allows data: images only): the broker fetches an app's logoUrl
// itself, keeps it only when it really is a PNG, JPEG, GIF or WebP of at
// most maxLogoBytes, and inlines it. The URL was checked when it was
// registered; the fetch checks the address it dials too, so a name that
// resolves to a private address later is refused (docs/security.md).
const (
	maxLogoBytes  = 256 << 10
	logoTimeout   = 3 * time.Second
	logoTTL       = time.Hour
	logoFailTTL   = 10 * time.Minute
	logoCacheSize = 512
)

var logoTypes = []string{"image/png", "image/jpeg", "image/gif", "image/webp"}

type logoCache struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, logoEntry]
	group singleflight.Group
	hc    *http.Client
	now   func() time.Time
}

type logoEntry struct {
	dataURL string // "" when the fetch failed
	expires time.Time
}

func newLogoCache(allowLoopback bool, now func() time.Time) *logoCache {
	l, _ := simplelru.NewLRU[string, logoEntry](logoCacheSize, nil)
	d := &net.Dialer{Timeout: logoTimeout, Control: netguard.Control(allowLoopback)}
	return &logoCache{lru: l, now: now, hc: &http.Client{
		Timeout:       logoTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, DialContext: d.DialContext, TLSHandshakeTimeout: logoTimeout,
			ResponseHeaderTimeout: logoTimeout, MaxResponseHeaderBytes: 16 << 10, DisableKeepAlives: true},
	}}
}

// dataURL returns the logo at raw as a data: URL, or "" when it cannot be
// shown (the page then shows the app's initial).
func (c *logoCache) dataURL(ctx context.Context, raw string) string {
	now := c.now()
	c.mu.Lock()
	e, ok := c.lru.Get(raw)
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.dataURL
	}
	v, _, _ := c.group.Do(raw, func() (any, error) {
		// Detached from the page request: a browser that hangs up must not
		// leave a half-fetched logo to be retried by every other one.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logoTimeout)
		defer cancel()
		u, err := c.fetch(fctx, raw)
		e := logoEntry{dataURL: u, expires: c.now().Add(logoTTL)}
		if err != nil {
			e.expires = c.now().Add(logoFailTTL)
		}
		c.mu.Lock()
		c.lru.Add(raw, e)
		c.mu.Unlock()
		return u, nil
	})
	return v.(string)
}

func (c *logoCache) fetch(ctx context.Context, raw string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil || (req.URL.Scheme != "https" && req.URL.Scheme != "http") {
		return "", errors.New("connect: logo: not an http(s) URL")
	}
	req.Header.Set("Accept", "image/png, image/jpeg, image/gif, image/webp")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("connect: logo: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxLogoBytes+1))
	if err != nil || len(body) > maxLogoBytes {
		return "", errors.New("connect: logo: unreadable or too large")
	}
	// The bytes decide, not the Content-Type header: an SVG or HTML file
	// served as image/png is refused.
	ct := http.DetectContentType(body)
	for _, t := range logoTypes {
		if ct == t {
			return "data:" + t + ";base64," + base64.StdEncoding.EncodeToString(body), nil
		}
	}
	return "", errors.New("connect: logo: not a PNG, JPEG, GIF or WebP image")
}
