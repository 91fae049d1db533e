package google_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/google"
	"github.com/oauthbroker/broker/providers/google/googletest"
)

func call(c *googletest.Calendar, token string) providers.CalendarCall {
	return providers.CalendarCall{BaseURL: c.URL, Do: func(req *http.Request) (*http.Response, error) {
		req.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultClient.Do(req)
	}}
}

// The adapter follows every provider page, keeps cancelled occurrences,
// all-day dates and free/tentative, and reads only the window.
func TestListEventsAcrossProviderPages(t *testing.T) {
	fake := googletest.NewCalendar(t, "tok")
	fake.PageSize = 2
	base := time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC)
	var evs []googletest.CalEvent
	for i := range 7 {
		evs = append(evs, googletest.CalEvent{ID: "e" + string(rune('a'+i)), Summary: "x", Start: base.Add(time.Duration(i) * time.Hour), End: base.Add(time.Duration(i)*time.Hour + 30*time.Minute)})
	}
	evs[1].Status, evs[2].Transparency, evs[3].Status = "cancelled", "transparent", "tentative"
	evs = append(evs, googletest.CalEvent{ID: "allday", Date: "2026-03-28", EndDate: "2026-03-29", Start: base.Add(-9 * time.Hour)},
		googletest.CalEvent{ID: "outside", Start: base.Add(48 * time.Hour), End: base.Add(49 * time.Hour)})
	fake.Add("primary@example.com", evs...)

	var got []providers.Event
	err := google.Room{}.ListEvents(t.Context(), call(fake, "tok"), "primary@example.com", base.Add(-9*time.Hour), base.Add(24*time.Hour),
		func(e providers.Event) error { got = append(got, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 || fake.Calls() != 4 {
		t.Fatalf("got %d events in %d calls, want 8 in 4 pages of 2: %+v", len(got), fake.Calls(), got)
	}
	seen := map[string]providers.Event{}
	for _, e := range got {
		if _, dup := seen[e.ID]; dup {
			t.Fatalf("event %s twice", e.ID)
		}
		seen[e.ID] = e
	}
	if seen["eb"].Status != providers.StatusCancelled || seen["ec"].Transparency != providers.Free ||
		seen["ed"].Status != providers.StatusTentative || seen["ea"].Transparency != providers.Busy {
		t.Fatalf("status/transparency not mapped: %+v", seen)
	}
	if a := seen["allday"]; !a.AllDay || a.StartDate != "2026-03-28" || a.EndDate != "2026-03-29" {
		t.Fatalf("all-day = %+v", a)
	}
	if _, ok := seen["outside"]; ok {
		t.Fatal("an event outside the window was read")
	}
}

// A rejected token is an UpstreamError with the status and nothing else.
func TestListCalendarsUnauthorized(t *testing.T) {
	fake := googletest.NewCalendar(t, "tok")
	_, err := google.Room{}.ListCalendars(t.Context(), call(fake, "wrong"))
	var ue *providers.UpstreamError
	if !errors.As(err, &ue) || ue.Status != 401 {
		t.Fatalf("err = %v, want UpstreamError 401", err)
	}
	cals, err := google.Room{}.ListCalendars(t.Context(), call(fake, "tok"))
	if err != nil || len(cals) != 1 || !cals[0].Primary || cals[0].ReadOnly || cals[0].TimeZone != "Europe/Berlin" {
		t.Fatalf("calendars = %+v, %v", cals, err)
	}
}
