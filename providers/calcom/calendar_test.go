package calcom_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/calcom/calcomtest"
)

// call sends as the broker does: the credential and the catalog's static
// headers injected by the provider.
func call(t *testing.T, b *calcomtest.Bookings, token string) providers.CalendarCall {
	cat, err := providers.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	p := &providers.Provider{ID: "calcom", Spec: cat["calcom"], Room: calcom.Room{}}
	return providers.CalendarCall{BaseURL: b.URL, Do: func(req *http.Request) (*http.Response, error) {
		p.Inject(req, model.Token{AccessToken: token})
		return http.DefaultClient.Do(req)
	}}
}

func list(t *testing.T, b *calcomtest.Bookings, from, to time.Time) ([]providers.Event, error) {
	t.Helper()
	var got []providers.Event
	err := calcom.Room{}.ListEvents(t.Context(), call(t, b, "tok"), calcom.BookingsCalendar, from, to,
		func(e providers.Event) error { got = append(got, e); return nil })
	return got, err
}

// The bookings are one read-only primary calendar, read without a call.
func TestListCalendars(t *testing.T) {
	fake := calcomtest.NewBookings(t, "tok")
	cals, err := calcom.Room{}.ListCalendars(t.Context(), call(t, fake, "tok"))
	if err != nil || len(cals) != 1 || cals[0].ID != calcom.BookingsCalendar || !cals[0].Primary || !cals[0].ReadOnly || fake.Calls() != 0 {
		t.Fatalf("calendars = %+v, %v (%d calls)", cals, err, fake.Calls())
	}
}

// Every page is read, with the catalog's API version; statuses map to
// confirmed, tentative and cancelled (all busy); a booking that starts
// before the window and ends in it is found; nothing outside is listed.
func TestListEventsAcrossProviderPages(t *testing.T) {
	fake := calcomtest.NewBookings(t, "tok")
	fake.PageSize = 2
	from := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	bk := func(uid, status string, start time.Time, d time.Duration) calcomtest.Booking {
		return calcomtest.Booking{UID: uid, Title: "Consultation " + uid, Status: status, Start: start, End: start.Add(d)}
	}
	fake.Add(
		bk("acc", "accepted", from.Add(9*time.Hour), 30*time.Minute),
		bk("pend", "pending", from.Add(10*time.Hour), 30*time.Minute),
		bk("canc", "cancelled", from.Add(11*time.Hour), 30*time.Minute),
		bk("rej", "rejected", from.Add(12*time.Hour), 30*time.Minute),
		bk("await", "awaitingHost", from.Add(13*time.Hour), 30*time.Minute),
		bk("across-start", "accepted", from.Add(-time.Hour), 2*time.Hour),
		bk("across-end", "accepted", to.Add(-time.Hour), 2*time.Hour),
		bk("before", "accepted", from.Add(-3*time.Hour), time.Hour),
		bk("after", "accepted", to.Add(time.Hour), time.Hour),
	)
	fake.Add(calcomtest.Booking{ID: 77, UID: "rec-2", Title: "Weekly", Start: from.Add(15 * time.Hour), End: from.Add(16 * time.Hour),
		RecurringUID: "series-9", Updated: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})

	got, err := list(t, fake, from, to)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]providers.Event{}
	for _, e := range got {
		if _, dup := seen[e.ID]; dup {
			t.Fatalf("booking %s twice", e.ID)
		}
		seen[e.ID] = e
	}
	if len(got) != 8 || fake.Calls() != 5 {
		t.Fatalf("got %d events in %d calls, want 8 of 10 bookings in 5 pages of 2: %v", len(got), fake.Calls(), seen)
	}
	for id, want := range map[string]string{"acc": providers.StatusConfirmed, "pend": providers.StatusTentative, "canc": providers.StatusCancelled,
		"rej": providers.StatusCancelled, "await": providers.StatusTentative, "across-start": providers.StatusConfirmed,
		"across-end": providers.StatusConfirmed, "rec-2": providers.StatusConfirmed} {
		e, ok := seen[id]
		if !ok || e.Status != want || e.Transparency != providers.Busy || e.CalendarID != calcom.BookingsCalendar {
			t.Errorf("%s: %+v, want status %s busy", id, e, want)
		}
	}
	if e := seen["acc"]; !e.Start.Equal(from.Add(9*time.Hour)) || !e.End.Equal(from.Add(9*time.Hour+30*time.Minute)) || e.Title != "Consultation acc" || !e.Updated.IsZero() {
		t.Errorf("accepted = %+v", e)
	}
	if e := seen["rec-2"]; e.RecurringEventID != "series-9" || !e.Updated.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("recurring = %+v", e)
	}
	for i, r := range fake.Requests() {
		if r.APIVersion != calcomtest.APIVersion || r.Query.Get("sortStart") != "asc" || r.Query.Get("take") != "250" {
			t.Errorf("page %d: version %q query %v", i, r.APIVersion, r.Query)
		}
	}
}

// Every error status is an UpstreamError with the status and none of
// Cal.com's words.
func TestErrorStatuses(t *testing.T) {
	from := time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC)
	for _, status := range []int{401, 403, 429, 500, 502, 503} {
		fake := calcomtest.NewBookings(t, "tok")
		fake.FailNext(status, 1)
		_, err := list(t, fake, from, from.Add(time.Hour))
		var ue *providers.UpstreamError
		if !errors.As(err, &ue) || ue.Status != status {
			t.Fatalf("%d: err = %v", status, err)
		}
		for _, leak := range []string{"Exception", "READ_BOOKING", "Invalid Access", "/v2", "{"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("%d: message %q carries the provider's body (%q)", status, err, leak)
			}
		}
	}
	fake := calcomtest.NewBookings(t, "tok")
	var ue *providers.UpstreamError
	err := calcom.Room{}.ListEvents(t.Context(), call(t, fake, "stale"), calcom.BookingsCalendar, from, from.Add(time.Hour), func(providers.Event) error { return nil })
	if !errors.As(err, &ue) || ue.Status != 401 {
		t.Fatalf("stale token: %v", err)
	}
	err = calcom.Room{}.ListEvents(t.Context(), call(t, fake, "tok"), "other", from, from.Add(time.Hour), func(providers.Event) error { return nil })
	if !errors.As(err, &ue) || ue.Status != 404 {
		t.Fatalf("unknown calendar: %v", err)
	}
}
