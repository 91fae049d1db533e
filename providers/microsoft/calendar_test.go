package microsoft_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/microsoft"
	"github.com/oauthbroker/broker/providers/microsoft/microsofttest"
)

func call(c *microsofttest.Calendar, token string) providers.CalendarCall {
	return providers.CalendarCall{BaseURL: c.URL, Do: func(req *http.Request) (*http.Response, error) {
		req.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultClient.Do(req)
	}}
}

func list(t *testing.T, fake *microsofttest.Calendar, cal string, from, to time.Time) ([]providers.Event, error) {
	t.Helper()
	var got []providers.Event
	err := microsoft.Room{}.ListEvents(t.Context(), call(fake, "tok"), cal, from, to,
		func(e providers.Event) error { got = append(got, e); return nil })
	return got, err
}

// calendarView is read to its last page, the preferences sent on every one
// of them; showAs, all-day, cancelled and series map as docs/providers.md
// says; only the window is read; no personal field is even asked for.
func TestListEventsAcrossProviderPages(t *testing.T) {
	fake := microsofttest.NewCalendar(t, "tok")
	fake.PageSize = 2
	base := time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC)
	at := func(h int) (time.Time, time.Time) {
		return base.Add(time.Duration(h) * time.Hour), base.Add(time.Duration(h)*time.Hour + 30*time.Minute)
	}
	ev := func(id, showAs string, h int) microsofttest.CalEvent {
		s, e := at(h)
		return microsofttest.CalEvent{ID: id, Subject: "Subject " + id, ShowAs: showAs, Start: s, End: e}
	}
	evs := []microsofttest.CalEvent{
		ev("busy", "busy", 0), ev("free", "free", 1), ev("tent", "tentative", 2), ev("oof", "oof", 3),
		ev("elsewhere", "workingElsewhere", 4), ev("unknown", "unknown", 5), ev("cancelled", "busy", 6),
		ev("occ", "busy", 7), ev("exc", "busy", 8),
		{ID: "allday", Subject: "Holiday", AllDay: true, ShowAs: "free", Start: time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)},
		ev("outside", "busy", 48),
	}
	evs[6].Cancelled = true
	evs[7].Type, evs[7].SeriesMasterID = "occurrence", "master-1"
	evs[8].Type, evs[8].SeriesMasterID = "exception", "master-1"
	fake.Add("AAMkAD-default", evs...)

	got, err := list(t, fake, "AAMkAD-default", base.Add(-9*time.Hour), base.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || fake.Calls() != 5 {
		t.Fatalf("got %d events in %d calls, want 10 in 5 pages of 2: %+v", len(got), fake.Calls(), got)
	}
	seen := map[string]providers.Event{}
	for _, e := range got {
		if _, dup := seen[e.ID]; dup {
			t.Fatalf("event %s twice", e.ID)
		}
		seen[e.ID] = e
	}
	want := map[string][2]string{
		"busy": {providers.StatusConfirmed, providers.Busy}, "free": {providers.StatusConfirmed, providers.Free},
		"tent": {providers.StatusTentative, providers.Busy}, "oof": {providers.StatusConfirmed, providers.Busy},
		"elsewhere": {providers.StatusConfirmed, providers.Busy}, "unknown": {providers.StatusConfirmed, providers.Busy},
		"cancelled": {providers.StatusCancelled, providers.Busy},
	}
	for id, w := range want {
		if e := seen[id]; e.Status != w[0] || e.Transparency != w[1] {
			t.Errorf("%s: status %q transparency %q, want %v", id, e.Status, e.Transparency, w)
		}
	}
	if b := seen["busy"]; !b.Start.Equal(base) || !b.End.Equal(base.Add(30*time.Minute)) || b.Title != "Subject busy" || b.AllDay ||
		!b.Updated.Equal(time.Date(2026, 1, 2, 3, 4, 5, 678901200, time.UTC)) || b.RecurringEventID != "" {
		t.Errorf("timed event = %+v", b)
	}
	if seen["occ"].RecurringEventID != "master-1" || seen["exc"].RecurringEventID != "master-1" {
		t.Errorf("series: %+v %+v", seen["occ"], seen["exc"])
	}
	if a := seen["allday"]; !a.AllDay || a.StartDate != "2026-03-28" || a.EndDate != "2026-03-30" || !a.Start.IsZero() || a.Transparency != providers.Free {
		t.Errorf("all-day = %+v", a)
	}
	if _, ok := seen["outside"]; ok {
		t.Error("an event outside the window was read")
	}
	for i, r := range fake.Requests() {
		if !slices.Contains(r.Prefer, `outlook.timezone="UTC"`) || !slices.ContainsFunc(r.Prefer, func(p string) bool { return strings.HasPrefix(p, "odata.maxpagesize=") }) {
			t.Errorf("page %d: Prefer %q", i, r.Prefer)
		}
		sel := strings.ToLower(r.Query.Get("$select"))
		for _, personal := range []string{"attendees", "body", "location", "organizer", "onlinemeeting", "weblink"} {
			if sel == "" || strings.Contains(sel, personal) {
				t.Errorf("page %d asks for %q: $select=%q", i, personal, sel)
			}
		}
	}
}

// Calendars across pages: the default one is primary, one the user cannot
// edit is read-only.
func TestListCalendars(t *testing.T) {
	fake := microsofttest.NewCalendar(t, "tok")
	fake.PageSize = 2
	fake.AddCalendar("AAMkAD-shared", "Team (shared)", false, false)
	fake.AddCalendar("AAMkAD-birthdays", "Birthdays", false, true)
	cals, err := microsoft.Room{}.ListCalendars(t.Context(), call(fake, "tok"))
	if err != nil {
		t.Fatal(err)
	}
	want := []providers.Calendar{{ID: "AAMkAD-default", Name: "Calendar", Primary: true}, {ID: "AAMkAD-shared", Name: "Team (shared)", ReadOnly: true},
		{ID: "AAMkAD-birthdays", Name: "Birthdays"}}
	if !slices.Equal(cals, want) || fake.Calls() != 2 {
		t.Fatalf("calendars in %d calls = %+v, want %+v", fake.Calls(), cals, want)
	}
}

// A nextLink to another origin is refused before anything is sent there:
// the credential never leaves the API base URL.
func TestNextLinkToAnotherHostRefused(t *testing.T) {
	var stolen atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[]}`))
	}))
	t.Cleanup(evil.Close)
	fake := microsofttest.NewCalendar(t, "tok")
	fake.PageSize = 1
	fake.NextLinkBase = evil.URL
	base := time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC)
	fake.Add("AAMkAD-default", microsofttest.CalEvent{ID: "a", Start: base, End: base.Add(time.Hour)},
		microsofttest.CalEvent{ID: "b", Start: base.Add(2 * time.Hour), End: base.Add(3 * time.Hour)})
	fake.AddCalendar("AAMkAD-second", "Second", false, true)

	_, err := list(t, fake, "AAMkAD-default", base, base.Add(24*time.Hour))
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 0 {
		t.Fatalf("err = %v, want an UpstreamError", err)
	}
	_, err = microsoft.Room{}.ListCalendars(t.Context(), call(fake, "tok"))
	if !errors.As(err, &ue) {
		t.Fatalf("calendars: err = %v, want an UpstreamError", err)
	}
	if n := stolen.Load(); n != 0 {
		t.Fatalf("%d requests went to the other host", n)
	}
}

// Every error status is an UpstreamError with the status and none of
// Graph's words (codes, messages, request ids).
func TestErrorStatuses(t *testing.T) {
	base := time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC)
	for _, status := range []int{401, 403, 404, 429, 500, 503, 504} {
		fake := microsofttest.NewCalendar(t, "tok")
		fake.FailNext(status, 1)
		_, err := list(t, fake, "AAMkAD-default", base, base.Add(time.Hour))
		var ue *providers.UpstreamError
		if !errors.As(err, &ue) || ue.Status != status {
			t.Fatalf("%d: err = %v", status, err)
		}
		for _, leak := range []string{"ErrorAccessDenied", "ErrorInternal", "ErrorItemNotFound", "Throttled", "InvalidAuthentication",
			"ServiceNotAvailable", "UnknownError", "Access is denied", "MailboxConcurrency", "feed", "{"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%d: message %q carries the provider's body (%q)", status, err, leak)
			}
		}
	}
	fake := microsofttest.NewCalendar(t, "tok")
	_, err := microsoft.Room{}.ListCalendars(t.Context(), call(fake, "stale"))
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 401 {
		t.Fatalf("stale token: %v", err)
	}
	if _, err := list(t, fake, "no-such-calendar", base, base.Add(time.Hour)); !errors.As(err, &ue) || ue.Status != 404 {
		t.Fatalf("unknown calendar: %v", err)
	}
}

// An answer the adapter cannot read is an UpstreamError without a status:
// not JSON, or a time in a zone it did not ask for and cannot place.
func TestUnusableAnswers(t *testing.T) {
	for name, body := range map[string]string{
		"not json": `<html>maintenance</html>`,
		"windows zone": `{"value":[{"id":"x","isAllDay":false,"start":{"dateTime":"2026-03-28T09:00:00.0000000","timeZone":"Pacific Standard Time"},` +
			`"end":{"dateTime":"2026-03-28T10:00:00.0000000","timeZone":"Pacific Standard Time"}}]}`,
		"no start": `{"value":[{"id":"x","isAllDay":true,"start":{},"end":{}}]}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
		c := providers.CalendarCall{BaseURL: srv.URL + "/v1.0", Do: http.DefaultClient.Do}
		err := microsoft.Room{}.ListEvents(t.Context(), c, "cal", time.Now(), time.Now().Add(time.Hour), func(providers.Event) error { return nil })
		srv.Close()
		var ue *providers.UpstreamError
		if !errors.As(err, &ue) || ue.Status != 0 || strings.Contains(err.Error(), "maintenance") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
