package broker_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/events"
)

// edit changes one character in the middle of a cursor.
func edit(c string) string {
	b := []byte(c)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

type evJSON struct {
	ID, ConnectionID, CalendarID, Status, Transparency, Title, CalendarName string
	AllDay                                                                  bool
	Start, End                                                              struct{ DateTime, TimeZone, Date string }
}

type evPage struct {
	Events         []evJSON
	PagingMetadata struct {
		Cursor  string
		HasNext bool
	}
	Failures []json.RawMessage
	Error    struct{ Code, Field string }
}

// The calendar layer through the real HTTP stack against the demo's Google
// Calendar v3 API, read by the Google adapter: calendars and their
// selection, paging with a cursor across broker pages while the access
// token expires in the middle, the cursor bound to its query, NO_PI, and
// free/busy equal to the busy intervals of the listed events.
func TestEventsThroughGoogleAdapterAgainstDemo(t *testing.T) {
	d := newDemoBroker(t, nil)
	conn := d.connectDemo(t, "s1", "allow").Query().Get("connectionId")
	if conn == "" {
		t.Fatal("no connection")
	}
	var cals struct {
		Calendars []struct {
			ID, Name          string
			Primary, Selected bool
		}
	}
	if code := d.call(t, "GET", "/v1/connections/"+conn+"/calendars?fieldset=OWN_PI", nil, &cals); code != 200 || len(cals.Calendars) != 2 {
		t.Fatalf("calendars: %d %+v", code, cals)
	}
	var all []string
	for _, c := range cals.Calendars {
		if c.Selected != c.Primary || c.Name == "" {
			t.Fatalf("default selection / name: %+v", c)
		}
		all = append(all, c.ID)
	}
	var bad evPage
	if code := d.call(t, "PUT", "/v1/connections/"+conn+"/calendars", map[string]any{"selected": []string{"nope"}}, &bad); code != 400 || bad.Error.Field != "selected" {
		t.Fatalf("unknown calendar: %d %+v", code, bad)
	}
	cals.Calendars = nil
	if code := d.call(t, "PUT", "/v1/connections/"+conn+"/calendars", map[string]any{"selected": all}, &cals); code != 200 {
		t.Fatalf("select: %d", code)
	}
	for _, c := range cals.Calendars {
		if !c.Selected || c.Name != "" {
			t.Fatalf("after select (NO_PI): %+v", c)
		}
	}

	now := d.Now()
	from, to := now.Add(-72*time.Hour).UTC().Format(time.RFC3339), now.Add(96*time.Hour).UTC().Format(time.RFC3339)
	q := url.Values{"scheduleId": {"s1"}, "from": {from}, "to": {to}, "timeZone": {"Europe/Berlin"}}
	var whole evPage
	q.Set("limit", "1000")
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &whole); code != 200 || len(whole.Events) < 5 || whole.PagingMetadata.HasNext {
		t.Fatalf("events: %d %+v", code, whole)
	}
	cals2 := map[string]bool{}
	for _, e := range whole.Events {
		cals2[e.CalendarID] = true
		if e.Title != "" || e.CalendarName != "" || e.ConnectionID != conn {
			t.Fatalf("NO_PI event carries personal data: %+v", e)
		}
	}
	for id := range cals2 {
		if !slices.Contains(all, id) {
			t.Fatalf("event of calendar %q, not one of the account's", id)
		}
	}

	// Broker pages of 3, the token expiring between pages.
	q.Set("limit", "3")
	var paged []evJSON
	var first string
	path := "/v1/events?" + q.Encode()
	for i := 0; ; i++ {
		var p evPage
		if code := d.call(t, "GET", path, nil, &p); code != 200 {
			t.Fatalf("page %d: %d %+v", i, code, p)
		}
		if p.PagingMetadata.HasNext && len(p.Events) != 3 {
			t.Fatalf("page %d has %d events, want exactly the limit", i, len(p.Events))
		}
		paged = append(paged, p.Events...)
		if !p.PagingMetadata.HasNext {
			break
		}
		if first == "" {
			first = p.PagingMetadata.Cursor
		}
		d.Advance(20 * time.Minute) // past the demo's access token lifetime
		path = "/v1/events?" + url.Values{"scheduleId": {"s1"}, "cursor": {p.PagingMetadata.Cursor}, "limit": {"3"}, "timeZone": {"Europe/Berlin"}}.Encode()
	}
	ids := func(es []evJSON) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if !slices.Equal(ids(paged), ids(whole.Events)) {
		t.Fatalf("paged ids\n%v\nwant\n%v", ids(paged), ids(whole.Events))
	}

	// The cursor is bound to its query and cannot be edited.
	for name, v := range map[string]url.Values{
		"other schedule": {"scheduleId": {"s2"}, "cursor": {first}, "limit": {"3"}, "timeZone": {"Europe/Berlin"}},
		"other fieldset": {"scheduleId": {"s1"}, "cursor": {first}, "limit": {"3"}, "timeZone": {"Europe/Berlin"}, "fieldset": {"OWN_PI"}},
		"other window":   {"scheduleId": {"s1"}, "cursor": {first}, "from": {now.UTC().Format(time.RFC3339)}},
		"edited":         {"scheduleId": {"s1"}, "cursor": {edit(first)}, "timeZone": {"Europe/Berlin"}},
	} {
		var p evPage
		if code := d.call(t, "GET", "/v1/events?"+v.Encode(), nil, &p); code != 400 || p.Error.Code != "invalid_argument" || p.Error.Field != "cursor" {
			t.Errorf("%s: %d %+v", name, code, p.Error)
		}
	}

	// Free/busy equals the busy intervals computed from the events.
	var fb struct {
		Busy     []struct{ Start, End string }
		Failures []json.RawMessage
	}
	fq := url.Values{"scheduleId": {"s1"}, "from": {from}, "to": {to}, "timeZone": {"Europe/Berlin"}}
	if code := d.call(t, "GET", "/v1/freebusy?"+fq.Encode(), nil, &fb); code != 200 || len(fb.Busy) == 0 {
		t.Fatalf("freebusy: %d %+v", code, fb)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	f, _ := time.Parse(time.RFC3339, from)
	tt, _ := time.Parse(time.RFC3339, to)
	var iv []events.Interval
	for _, e := range whole.Events {
		if e.Status == "cancelled" || e.Transparency == "free" {
			continue
		}
		var st, en time.Time
		if e.AllDay {
			st, _ = time.ParseInLocation(time.DateOnly, e.Start.Date, berlin)
			en, _ = time.ParseInLocation(time.DateOnly, e.End.Date, berlin)
		} else {
			st, _ = time.Parse(time.RFC3339, e.Start.DateTime)
			en, _ = time.Parse(time.RFC3339, e.End.DateTime)
		}
		if st.Before(f) {
			st = f
		}
		if en.After(tt) {
			en = tt
		}
		if st.Before(en) {
			iv = append(iv, events.Interval{Start: st, End: en})
		}
	}
	want := events.Coalesce(iv)
	if len(want) != len(fb.Busy) {
		t.Fatalf("freebusy has %d intervals, the events give %d", len(fb.Busy), len(want))
	}
	for i, b := range fb.Busy {
		st, _ := time.Parse(time.RFC3339, b.Start)
		en, _ := time.Parse(time.RFC3339, b.End)
		if !st.Equal(want[i].Start) || !en.Equal(want[i].End) {
			t.Fatalf("busy[%d] = %v, want %v", i, b, want[i])
		}
	}

	var e400 evPage
	if code := d.call(t, "GET", "/v1/events?scheduleId=s1&from="+from+"&to="+from, nil, &e400); code != 400 || e400.Error.Field != "to" {
		t.Fatalf("to == from: %d %+v", code, e400.Error)
	}
}

// Two schedules, each with its own connection to the same demo account:
// one listing holds the events of both, ids unique across connections, and
// a schedule alone lists only its own connection.
func TestEventsTwoSchedules(t *testing.T) {
	d := newDemoBroker(t, nil)
	c1 := d.connectDemo(t, "s1", "allow").Query().Get("connectionId")
	c2 := d.connectDemo(t, "s2", "allow").Query().Get("connectionId")
	if c1 == "" || c2 == "" || c1 == c2 {
		t.Fatalf("connections %q %q", c1, c2)
	}
	now := d.Now()
	q := url.Values{"scheduleId": {"s1", "s2"}, "from": {now.Add(-48 * time.Hour).UTC().Format(time.RFC3339)},
		"to": {now.Add(48 * time.Hour).UTC().Format(time.RFC3339)}, "limit": {"1000"}}
	var both, one evPage
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &both); code != 200 {
		t.Fatalf("both: %d %+v", code, both.Error)
	}
	q["scheduleId"] = []string{"s2"}
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &one); code != 200 || len(one.Events) == 0 {
		t.Fatalf("s2: %d %+v", code, one)
	}
	per := map[string]int{}
	ids := map[string]bool{}
	for _, e := range both.Events {
		per[e.ConnectionID]++
		if ids[e.ID] {
			t.Fatalf("id %s twice", e.ID)
		}
		ids[e.ID] = true
	}
	if per[c1] != len(one.Events) || per[c2] != len(one.Events) || len(per) != 2 {
		t.Fatalf("per connection %v, want %d each", per, len(one.Events))
	}
	for _, e := range one.Events {
		if e.ConnectionID != c2 {
			t.Fatalf("s2 listing has an event of %s", e.ConnectionID)
		}
	}
}

// A disconnected connection is not read: its schedule lists nothing and
// reports no failure; its calendars answer 409 without a provider call.
func TestEventsSkipDisconnected(t *testing.T) {
	d := newDemoBroker(t, nil)
	c := d.connectDemo(t, "s1", "allow").Query().Get("connectionId")
	if code := d.call(t, "POST", "/v1/connections/"+c+"/disconnect", nil, nil); code != 200 {
		t.Fatalf("disconnect: %d", code)
	}
	now := d.Now()
	q := url.Values{"scheduleId": {"s1"}, "from": {now.Add(-48 * time.Hour).UTC().Format(time.RFC3339)},
		"to": {now.Add(48 * time.Hour).UTC().Format(time.RFC3339)}}
	var p evPage
	if code := d.call(t, "GET", "/v1/events?"+q.Encode(), nil, &p); code != 200 || len(p.Events) != 0 || len(p.Failures) != 0 {
		t.Fatalf("events of a disconnected connection: %d %+v", code, p)
	}
	if code := d.call(t, "GET", "/v1/connections/"+c+"/calendars", nil, &p); code != 409 {
		t.Fatalf("calendars of a disconnected connection: %d %+v", code, p.Error)
	}
}
