package api_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/events/eventstest"
	"github.com/oauthbroker/broker/providers/google/googletest"
)

// evEdit changes one character in the middle of a cursor.
func evEdit(c string) string {
	b := []byte(c)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// A cursor belongs to its app and its query: replayed by another app (one
// with a schedule of the same name), with another window, schedule,
// fieldset or time zone, or edited, it is invalid_argument field cursor and
// shows nothing; with its own query it pages on.
func TestEventsCursorBoundToAppAndQuery(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{Accounts: 2})
	app, other := b.NewApp(t), b.NewApp(t)
	for i := range 6 {
		b.Accounts[0].Calendar.Add("primary@example.com", googletest.CalEvent{ID: fmt.Sprint("e", i), Start: at(float64(i)), End: at(float64(i) + 0.5)})
		b.Accounts[1].Calendar.Add("primary@example.com", googletest.CalEvent{ID: fmt.Sprint("o", i), Start: at(float64(i)), End: at(float64(i) + 0.5)})
	}
	b.Connect(t, app, "s1", 0)
	b.Connect(t, app, "s2", 0)
	b.Connect(t, other, "s1", 1)
	q := evWindow(evBase, at(24), "scheduleId", "s1", "limit", "2", "timeZone", "Europe/Berlin")
	code, first, raw := evGet(t, b, app, "/v1/events", q)
	if code != 200 || len(first.Events) != 2 || !first.PagingMetadata.HasNext {
		t.Fatalf("first page: %d %s", code, raw)
	}
	cur := first.PagingMetadata.Cursor
	next := func(more ...string) url.Values {
		v := url.Values{"cursor": {cur}, "limit": {"2"}}
		for i := 0; i+1 < len(more); i += 2 {
			v[more[i]] = append(v[more[i]], more[i+1])
		}
		return v
	}
	for name, c := range map[string]struct {
		app eventstest.App
		q   url.Values
	}{
		"another app":           {other, next("scheduleId", "s1", "timeZone", "Europe/Berlin")},
		"another schedule":      {app, next("scheduleId", "s2", "timeZone", "Europe/Berlin")},
		"one more schedule":     {app, next("scheduleId", "s1", "scheduleId", "s2", "timeZone", "Europe/Berlin")},
		"another fieldset":      {app, next("scheduleId", "s1", "timeZone", "Europe/Berlin", "fieldset", "OWN_PI")},
		"another time zone":     {app, next("scheduleId", "s1", "timeZone", "UTC")},
		"another from":          {app, next("scheduleId", "s1", "timeZone", "Europe/Berlin", "from", at(1).Format(time.RFC3339))},
		"another to":            {app, next("scheduleId", "s1", "timeZone", "Europe/Berlin", "to", at(12).Format(time.RFC3339))},
		"edited":                {app, url.Values{"cursor": {evEdit(cur)}, "scheduleId": {"s1"}, "timeZone": {"Europe/Berlin"}}},
		"truncated":             {app, url.Values{"cursor": {cur[:len(cur)-4]}, "scheduleId": {"s1"}, "timeZone": {"Europe/Berlin"}}},
		"another app, freebusy": {other, url.Values{"cursor": {cur}, "scheduleId": {"s1"}}},
	} {
		path := "/v1/events"
		if name == "another app, freebusy" {
			path = "/v1/freebusy"
		}
		code, p, raw := evGet(t, b, c.app, path, c.q)
		if code != 400 || p.Error.Code != "invalid_argument" || p.Error.Field != "cursor" || len(p.Events) != 0 {
			t.Errorf("%s: %d %s", name, code, raw)
		}
	}
	// The same query, window repeated or not, pages on.
	for _, v := range []url.Values{next("scheduleId", "s1", "timeZone", "Europe/Berlin"),
		next("scheduleId", "s1", "timeZone", "Europe/Berlin", "from", evBase.Format(time.RFC3339), "to", at(24).Format(time.RFC3339))} {
		code, p, raw := evGet(t, b, app, "/v1/events", v)
		if code != 200 || len(p.Events) != 2 || p.Events[0].ID == first.Events[0].ID || p.Events[0].ID == first.Events[1].ID {
			t.Errorf("own cursor: %d %s", code, raw)
		}
	}
}

// Paging a listing page by page while events are added before and after
// the window, between every two pages, returns exactly the events of the
// window once each, in order, no duplicate and no gap. An event added
// inside the window after the current position shows up on a later page;
// one added before it does not (docs/api.md).
func TestEventsPagingWhileEventsAreAdded(t *testing.T) {
	b := eventstest.New(t, eventstest.Options{Accounts: 2})
	app := b.NewApp(t)
	from, to := at(0), at(72)
	var want []string
	for a := range 2 {
		b.Accounts[a].Calendar.PageSize = 3 // provider pages of 3 under broker pages of 4
		for i := range 11 {
			st := from.Add(time.Duration(i*6+a) * time.Hour)
			id := fmt.Sprintf("a%d-%02d", a, i)
			b.Accounts[a].Calendar.Add("primary@example.com", googletest.CalEvent{ID: id, Summary: id, Start: st, End: st.Add(2 * time.Hour)})
			want = append(want, id)
		}
		// Two events at the same instant: the id decides their order.
		b.Accounts[a].Calendar.Add("primary@example.com", googletest.CalEvent{ID: fmt.Sprint("tie", a), Summary: fmt.Sprint("tie", a), Start: at(30), End: at(31)})
		want = append(want, fmt.Sprint("tie", a))
	}
	b.Connect(t, app, "s1", 0)
	b.Connect(t, app, "s1", 1)
	q := evWindow(from, to, "scheduleId", "s1", "limit", "4", "fieldset", "OWN_PI", "timeZone", "Asia/Tokyo")
	var got []evEvent
	added := 0
	for page := 0; ; page++ {
		code, p, raw := evGet(t, b, app, "/v1/events", q)
		if code != 200 || (p.PagingMetadata.HasNext && len(p.Events) != 4) {
			t.Fatalf("page %d: %d %s", page, code, raw)
		}
		got = append(got, p.Events...)
		if !p.PagingMetadata.HasNext {
			break
		}
		// Before and after the window, on both accounts, and one touching
		// each edge from outside.
		for a := range 2 {
			id := fmt.Sprintf("out-%d-%d", a, page)
			b.Accounts[a].Calendar.Add("primary@example.com",
				googletest.CalEvent{ID: id + "b", Summary: "outside", Start: from.Add(-time.Duration(page+2) * time.Hour), End: from},
				googletest.CalEvent{ID: id + "a", Summary: "outside", Start: to, End: to.Add(time.Duration(page+1) * time.Hour)},
				googletest.CalEvent{ID: id + "d", Summary: "outside", Date: from.AddDate(0, 0, -3).Format(time.DateOnly), EndDate: from.AddDate(0, 0, -2).Format(time.DateOnly)})
			added += 3
		}
		q = url.Values{"scheduleId": {"s1"}, "cursor": {p.PagingMetadata.Cursor}, "limit": {"4"}, "fieldset": {"OWN_PI"}, "timeZone": {"Asia/Tokyo"}}
	}
	if added == 0 {
		t.Fatal("nothing was added between pages: the test proves nothing")
	}
	var titles []string
	seen := map[string]bool{}
	for i, e := range got {
		if seen[e.ID] {
			t.Fatalf("event %s (%s) twice", e.ID, e.Title)
		}
		seen[e.ID] = true
		titles = append(titles, e.Title)
		if i > 0 {
			prev, cur := got[i-1].Start.DateTime, e.Start.DateTime
			if prev > cur || prev == cur && got[i-1].ID > e.ID {
				t.Fatalf("not sorted by start then id at %d: %+v then %+v", i, got[i-1], e)
			}
		}
	}
	slices.Sort(titles)
	slices.Sort(want)
	if !slices.Equal(titles, want) {
		t.Fatalf("paged\n%v\nwant\n%v", titles, want)
	}

	// Inside the window: after the position it is listed, before it not.
	q = evWindow(from, to, "scheduleId", "s1", "limit", "4", "fieldset", "OWN_PI")
	_, p, _ := evGet(t, b, app, "/v1/events", q)
	b.Accounts[0].Calendar.Add("primary@example.com",
		googletest.CalEvent{ID: "late", Summary: "late", Start: at(70), End: at(71)},
		googletest.CalEvent{ID: "early", Summary: "early", Start: at(0.1), End: at(0.2)})
	rest := map[string]bool{}
	for p.PagingMetadata.HasNext {
		_, p, _ = evGet(t, b, app, "/v1/events", url.Values{"scheduleId": {"s1"}, "cursor": {p.PagingMetadata.Cursor}, "limit": {"4"}, "fieldset": {"OWN_PI"}})
		for _, e := range p.Events {
			rest[e.Title] = true
		}
	}
	if !rest["late"] || rest["early"] {
		t.Fatalf("after the first page: late listed %v (want true), early listed %v (want false)", rest["late"], rest["early"])
	}
}
