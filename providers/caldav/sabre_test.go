package caldav_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav"
)

// sabreServer answers as Nextcloud's sabre/dav does, with the properties
// go-webdav's server lacks: privileges, calendar zones, the scheduling
// default, a tasks-only calendar and the inbox beside the calendars.
func sabreServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var zoneAsks atomic.Int32
	const ms = `<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav" xmlns:s="http://sabredav.org/ns">`
	ok := func(href, props string) string {
		return `<d:response><d:href>` + href + `</d:href><d:propstat><d:prop>` + props + `</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>` +
			`<d:propstat><d:prop><d:displayname/><cal:calendar-timezone/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>`
	}
	berlin := strings.ReplaceAll(ics(berlinTZ), "\n", "\r\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != user || p != pass {
			w.WriteHeader(401)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.WriteHeader(207)
		switch {
		case r.Method == "PROPFIND" && r.URL.Path == "/remote.php/dav":
			io.WriteString(w, ms+ok("/remote.php/dav/", `<d:current-user-principal><d:href>/remote.php/dav/principals/users/ann/</d:href></d:current-user-principal>`)+`</d:multistatus>`)
		case r.Method == "PROPFIND" && r.URL.Path == "/remote.php/dav/principals/users/ann/":
			io.WriteString(w, ms+ok(r.URL.Path, `<cal:calendar-home-set><d:href>/remote.php/dav/calendars/ann/</d:href></cal:calendar-home-set>`)+`</d:multistatus>`)
		case r.Method == "PROPFIND" && r.URL.Path == "/remote.php/dav/calendars/ann/" && r.Header.Get("Depth") == "1":
			io.WriteString(w, ms+
				ok("/remote.php/dav/calendars/ann/", `<d:resourcetype><d:collection/></d:resourcetype>`)+
				ok("/remote.php/dav/calendars/ann/inbox/", `<d:resourcetype><d:collection/><cal:schedule-inbox/></d:resourcetype><cal:schedule-default-calendar-URL><d:href>/remote.php/dav/calendars/ann/work/</d:href></cal:schedule-default-calendar-URL>`)+
				ok("/remote.php/dav/calendars/ann/personal/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Personal</d:displayname>`+
					`<d:current-user-privilege-set><d:privilege><d:read/></d:privilege><d:privilege><d:write/></d:privilege></d:current-user-privilege-set>`+
					`<cal:supported-calendar-component-set><cal:comp name="VEVENT"/><cal:comp name="VTODO"/></cal:supported-calendar-component-set>`+
					`<cal:calendar-timezone>`+berlin+`</cal:calendar-timezone>`)+
				ok("work/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Work</d:displayname>`+
					`<d:current-user-privilege-set><d:privilege><d:write/></d:privilege></d:current-user-privilege-set><cal:calendar-timezone-id>America/New_York</cal:calendar-timezone-id>`)+
				ok("/remote.php/dav/calendars/ann/tasks/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Tasks</d:displayname>`+
					`<cal:supported-calendar-component-set><cal:comp name="VTODO"/></cal:supported-calendar-component-set>`)+
				ok("/remote.php/dav/calendars/ann/contact_birthdays/", `<d:resourcetype><d:collection/><cal:calendar/></d:resourcetype><d:displayname>Birthdays</d:displayname>`+
					`<d:current-user-privilege-set><d:privilege><d:read/></d:privilege></d:current-user-privilege-set>`)+
				`</d:multistatus>`)
		case r.Method == "PROPFIND" && r.URL.Path == "/remote.php/dav/calendars/ann/personal/" && strings.Contains(string(body), "calendar-timezone"):
			zoneAsks.Add(1)
			io.WriteString(w, ms+ok(r.URL.Path, `<cal:calendar-timezone>`+berlin+`</cal:calendar-timezone>`)+`</d:multistatus>`)
		case r.Method == "REPORT" && r.URL.Path == "/remote.php/dav/calendars/ann/personal/":
			data := strings.ReplaceAll(ics("BEGIN:VEVENT\nUID:floating\nDTSTAMP:20260101T000000Z\nDTSTART:20260701T100000\nDTEND:20260701T110000\nEND:VEVENT\n"+
				"BEGIN:VEVENT\nUID:floating2\nDTSTAMP:20260101T000000Z\nDTSTART:20260701T120000\nDTEND:20260701T130000\nEND:VEVENT\n"), "\n", "\r\n")
			io.WriteString(w, ms+ok("/remote.php/dav/calendars/ann/personal/f.ics", `<d:getetag>"1"</d:getetag><cal:calendar-data>`+data+`</cal:calendar-data>`)+`</d:multistatus>`)
		case r.Method == "REPORT" && r.URL.Path == "/remote.php/dav/calendars/ann/history/":
			// A yearly date from 1700: past rrule-go's 292-year reach if walked
			// from its start (go-webdav's own server cannot match it).
			data := strings.ReplaceAll(ics("BEGIN:VEVENT\nUID:old\nDTSTAMP:17000101T000000Z\nDTSTART;VALUE=DATE:17000610\nRRULE:FREQ=YEARLY\nEND:VEVENT\n"), "\n", "\r\n")
			io.WriteString(w, ms+ok("/remote.php/dav/calendars/ann/history/old.ics", `<cal:calendar-data>`+data+`</cal:calendar-data>`)+`</d:multistatus>`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &zoneAsks
}

// Against sabre/dav's answers: ids relative to the apiBaseUrl, the
// scheduling default as primary, privileges, zones from both properties, a
// tasks-only calendar and the inbox left out, a relative href resolved;
// floating times in the calendar's zone, asked once; a series from 1700.
func TestSabreAnswers(t *testing.T) {
	srv, zoneAsks := sabreServer(t)
	c := providers.CalendarCall{BaseURL: srv.URL + "/remote.php/dav", Do: func(req *http.Request) (*http.Response, error) {
		req.SetBasicAuth(user, pass)
		return http.DefaultClient.Do(req)
	}}
	cals, err := caldav.Room{}.ListCalendars(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	want := []providers.Calendar{
		{ID: "calendars/ann/personal/", Name: "Personal", TimeZone: "Europe/Berlin"},
		{ID: "calendars/ann/work/", Name: "Work", Primary: true, TimeZone: "America/New_York"},
		{ID: "calendars/ann/contact_birthdays/", Name: "Birthdays", ReadOnly: true},
	}
	if !slices.Equal(cals, want) {
		t.Fatalf("calendars\n%+v\nwant\n%+v", cals, want)
	}
	got := list(t, c, "calendars/ann/personal/", "2026-07-01T00:00:00Z", "2026-07-02T00:00:00Z")
	if f := got["floating"]; !f.Start.Equal(date("2026-07-01T08:00:00Z")) || f.TimeZone != "Europe/Berlin" || !got["floating2"].Start.Equal(date("2026-07-01T10:00:00Z")) {
		t.Fatalf("floating = %+v", got)
	}
	if old := list(t, c, "calendars/ann/history/", "2026-06-01T00:00:00Z", "2026-07-01T00:00:00Z"); !slices.Equal(ids(old), []string{"old_20260610"}) {
		t.Fatalf("a yearly date from 1700: %v", ids(old))
	}
	if n := zoneAsks.Load(); n != 1 {
		t.Fatalf("the calendar's zone was asked %d times, want once", n)
	}
}
