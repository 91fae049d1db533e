package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/netguard"
)

// UserAgent is sent with every delivery.
const UserAgent = "oauthbroker-webhooks/1"

// Limits on what is kept of a receiver's answer.
const (
	maxRead       = 4 << 10 // read so the connection can be reused; the rest is dropped
	maxExcerpt    = 200     // characters of the body kept in lastError
	maxRetryAfter = 24 * time.Hour
)

// NewClient is the delivery client: every dial passes control (the address
// check), no redirect is followed (the 3xx is the answer, and it is not a
// 2xx), no proxy from the environment is used (it would dial for us,
// around the check), and timeout bounds the whole attempt.
func NewClient(timeout time.Duration, resolver *net.Resolver, control func(network, address string, c syscall.RawConn) error) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Resolver: resolver, Control: control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckURL says what is wrong with a webhookUrl at delivery time: the
// rule of registration (broker/netguard: https, plain http only to loopback
// when allowLoopback, no internal address in any spelling), checked again
// because the operator's setting may have changed since. Which addresses
// may be dialled is checked when dialling (netguard.Control).
func CheckURL(raw string, allowLoopback bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return errors.New("not an absolute URL without user information")
	}
	return netguard.CheckURL(u, allowLoopback)
}

// send makes one signed POST of e to target.
func (w *Worker) send(ctx context.Context, app model.App, target string, e model.WebhookEvent) outcome {
	keys, err := w.keys(app)
	if err != nil {
		return outcome{err: err.Error()}
	}
	body := Body(e)
	ts := w.o.Now()
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "webhookUrl is not a valid URL", final: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, e.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(e.ID, ts, body, keys...))
	resp, err := w.client.Do(req)
	if err != nil {
		return outcome{err: describeErr(err, w.o.Timeout)}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxRead))
	o := outcome{status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return o
	case resp.StatusCode == http.StatusGone:
		o.final, o.disable = true, true
		o.err = "HTTP 410 Gone: webhooks are off until webhookUrl is set again"
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		o.err = fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	default:
		o.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	if x := Excerpt(head); x != "" {
		o.err += ": " + x
	}
	o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.o.Now())
	return o
}

// describeErr says why an attempt got no answer, without the URL that
// *url.Error would print (its query may hold the receiver's token).
func describeErr(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, netguard.ErrRefused):
		// The dial check's verdict names the range, never the address.
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = oe.Err
		}
		return "webhookUrl leads to a refused address: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	}
	return clip(err.Error(), 300)
}

// Excerpt is a short, printable version of a receiver's body: control
// characters and non-ASCII are dropped, runs of space collapse, and at most
// maxExcerpt characters are kept.
func Excerpt(b []byte) string {
	var out strings.Builder
	space := false
	for _, c := range b {
		if out.Len() >= maxExcerpt {
			out.WriteString("…")
			break
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = out.Len() > 0
		case c > ' ' && c < 0x7f:
			if space {
				out.WriteByte(' ')
				space = false
			}
			out.WriteByte(c)
		}
	}
	return out.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// parseRetryAfter reads delay-seconds or an HTTP date, capped at a day.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		d = time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Body is the exact body of e's deliveries. Events queued before this
// format (a flat {connectionId, …} payload) are wrapped into it.
func Body(e model.WebhookEvent) []byte {
	var probe struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(e.Payload, &probe) == nil && probe.Type != "" {
		return e.Payload
	}
	var old struct {
		ConnectionID string `json:"connectionId"`
		ProviderID   string `json:"providerId"`
		ScheduleID   string `json:"scheduleId"`
		Status       string `json:"status"`
	}
	_ = json.Unmarshal(e.Payload, &old)
	body, _ := json.Marshal(model.WebhookBody{
		Type: e.Type, Timestamp: e.CreatedAt.UTC(),
		Data: model.WebhookData{Connection: &model.ConnectionJSON{
			ID: old.ConnectionID, ProviderID: old.ProviderID, ScheduleID: old.ScheduleID, Status: old.Status,
			Scopes: []string{}, CreatedAt: e.CreatedAt.UTC(),
		}},
	})
	return body
}
