package caldav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthbroker/broker/providers"
)

// maxBody bounds one WebDAV answer. go-webdav decodes a multistatus whole,
// so this bounds the memory of one REPORT; a larger answer makes ListEvents
// ask again for half the window. A variable for tests.
var maxBody int64 = 16 << 20

// errTooLarge is an answer over maxBody.
var errTooLarge = &providers.UpstreamError{Reason: "answer too large"}

// davClient is the webdav.HTTPClient go-webdav sends through: every request
// goes through call.Do (the credential, one retry on 401, the outbound
// transport), every body is capped, and the first failure is kept, so the
// adapter reports that and never go-webdav's text, which can quote a body.
type davClient struct {
	call providers.CalendarCall
	base *url.URL
	err  error
}

func newDAVClient(call providers.CalendarCall) (*davClient, error) {
	u, err := url.Parse(call.BaseURL)
	if err != nil || u.Host == "" {
		return nil, &providers.UpstreamError{Reason: "apiBaseUrl is not a URL"}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return &davClient{call: call, base: u}, nil
}

// Do implements webdav.HTTPClient.
func (c *davClient) Do(req *http.Request) (*http.Response, error) {
	if req.URL.Host != c.base.Host || req.URL.Scheme != c.base.Scheme {
		// An href naming another host: the credential never goes there.
		return nil, c.fail(&providers.UpstreamError{Reason: "the server pointed to another host"})
	}
	resp, err := c.call.Do(req)
	if err != nil {
		return nil, c.fail(err)
	}
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, c.fail(&providers.UpstreamError{Status: resp.StatusCode})
	}
	resp.Body = &capped{rc: resp.Body, left: maxBody, c: c}
	return resp, nil
}

func (c *davClient) fail(err error) error {
	if c.err == nil {
		c.err = err
	}
	return err
}

// result turns what go-webdav returned into the adapter's error: the kept
// failure, else an unusable answer.
func (c *davClient) result(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case c.err != nil:
		return c.err
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return &providers.UpstreamError{Reason: "malformed WebDAV answer"}
}

// capped fails a body that goes past maxBody.
type capped struct {
	rc   io.ReadCloser
	left int64
	c    *davClient
}

func (b *capped) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, b.c.fail(errTooLarge)
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *capped) Close() error { return b.rc.Close() }

// id is a calendar's id: its path relative to the apiBaseUrl's, or the
// absolute path when it lies elsewhere on the server.
func (c *davClient) id(p string) string {
	if rel, ok := strings.CutPrefix(p, c.base.Path); ok && rel != "" {
		return rel
	}
	return p
}

// path is the absolute path of a calendar id; an id that could climb out
// of its place is refused.
func (c *davClient) path(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "?#\\\x00") || strings.Contains("/"+id+"/", "/../") || strings.Contains("/"+id+"/", "/./") {
		return "", errors.New("caldav: not a calendar id")
	}
	if strings.HasPrefix(id, "/") {
		return id, nil
	}
	return c.base.Path + id, nil
}

// propfind sends a PROPFIND of body to path and decodes the multistatus.
func (c *davClient) propfind(ctx context.Context, path, depth, body string) ([]davResponse, error) {
	u := *c.base
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, "PROPFIND", u.String(), bytes.NewReader([]byte(xml.Header+body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", `application/xml; charset="utf-8"`)
	req.Header.Set("Depth", depth)
	resp, err := c.Do(req)
	if err != nil {
		return nil, c.result(ctx, err)
	}
	defer resp.Body.Close()
	var ms struct {
		Responses []davResponse `xml:"DAV: response"`
	}
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, c.fail(&providers.UpstreamError{Reason: "PROPFIND without a multistatus"})
	}
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, c.result(ctx, err)
	}
	return ms.Responses, nil
}

// calendarProps is what the calendar listing asks of each collection of
// the home set: the default calendar URL (RFC 6638) comes from the
// scheduling inbox, which usually sits there too.
const calendarProps = `<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` +
	`<d:resourcetype/><d:displayname/><d:current-user-privilege-set/>` +
	`<c:calendar-timezone/><c:calendar-timezone-id/><c:supported-calendar-component-set/>` +
	`<c:schedule-default-calendar-URL/></d:prop></d:propfind>`

// zoneProps asks a calendar for its zone alone (floating times).
const zoneProps = `<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>` +
	`<c:calendar-timezone/><c:calendar-timezone-id/></d:prop></d:propfind>`

type davResponse struct {
	Href     string `xml:"DAV: href"`
	Propstat []struct {
		Status string  `xml:"DAV: status"`
		Prop   davProp `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

type davProp struct {
	ResourceType *struct {
		Calendar *struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar"`
	} `xml:"DAV: resourcetype"`
	DisplayName string `xml:"DAV: displayname"`
	Privileges  *struct {
		Privilege []struct {
			Any []struct {
				XMLName xml.Name
			} `xml:",any"`
		} `xml:"DAV: privilege"`
	} `xml:"DAV: current-user-privilege-set"`
	TimeZone   string `xml:"urn:ietf:params:xml:ns:caldav calendar-timezone"`
	TimeZoneID string `xml:"urn:ietf:params:xml:ns:caldav calendar-timezone-id"`
	Components *struct {
		Comp []struct {
			Name string `xml:"name,attr"`
		} `xml:"urn:ietf:params:xml:ns:caldav comp"`
	} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
	DefaultCalendar *struct {
		Href string `xml:"DAV: href"`
	} `xml:"urn:ietf:params:xml:ns:caldav schedule-default-calendar-URL"`
}

// props merges the propstats that answered 200 (a 404 one lists the
// properties the server does not have).
func (r davResponse) props() davProp {
	var out davProp
	for _, ps := range r.Propstat {
		if !strings.Contains(ps.Status, " 200") {
			continue
		}
		p := ps.Prop
		if p.ResourceType != nil {
			out.ResourceType = p.ResourceType
		}
		if p.DisplayName != "" {
			out.DisplayName = p.DisplayName
		}
		if p.Privileges != nil {
			out.Privileges = p.Privileges
		}
		if p.TimeZone != "" {
			out.TimeZone = p.TimeZone
		}
		if p.TimeZoneID != "" {
			out.TimeZoneID = p.TimeZoneID
		}
		if p.Components != nil {
			out.Components = p.Components
		}
		if p.DefaultCalendar != nil {
			out.DefaultCalendar = p.DefaultCalendar
		}
	}
	return out
}

// hrefPath is the decoded path of an href (absolute URL or path).
func hrefPath(h string) string {
	u, err := url.Parse(strings.TrimSpace(h))
	if err != nil {
		return ""
	}
	return u.Path
}

// writable tells whether the privilege set lets the user change events.
func (p davProp) writable() bool {
	for _, pr := range p.Privileges.Privilege {
		for _, a := range pr.Any {
			switch a.XMLName.Local {
			case "all", "write", "write-content", "bind":
				return true
			}
		}
	}
	return false
}

// events tells whether the collection holds events (an absent set means
// every component type).
func (p davProp) events() bool {
	if p.Components == nil || len(p.Components.Comp) == 0 {
		return true
	}
	for _, c := range p.Components.Comp {
		if strings.EqualFold(c.Name, "VEVENT") {
			return true
		}
	}
	return false
}
