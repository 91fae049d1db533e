package broker_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/option"

	"github.com/oauthbroker/broker/client"
)

// The Go client against the demo over the real HTTP stack: calendars and
// their selection, events paged by cursor, free/busy, and Google's own
// Calendar v3 SDK, unmodified, reading the same calendar through /proxy over
// client.Transport.
func TestGoClientAgainstDemo(t *testing.T) {
	d := newDemoBroker(t, nil)
	conn := d.connectDemo(t, "go-client", "allow").Query().Get("connectionId")
	if conn == "" {
		t.Fatal("no connection")
	}
	ctx := context.Background()
	cl, err := client.New(d.URL, d.App.ClientSecret)
	if err != nil {
		t.Fatal(err)
	}

	cals, err := cl.Calendars(ctx, conn, client.FieldsetOwnPI)
	if err != nil || len(cals) != 2 {
		t.Fatalf("calendars: %+v, %v", cals, err)
	}
	var ids []string
	for _, c := range cals {
		if c.Name == "" || c.Selected != c.Primary {
			t.Fatalf("calendar %+v: want a name, only the primary selected", c)
		}
		ids = append(ids, c.ID)
	}
	if _, err := cl.SelectCalendars(ctx, conn, []string{"no-such-calendar"}); client.ErrorCode(err) != client.CodeInvalidArgument {
		t.Fatalf("unknown calendar: %v", err)
	}
	sel, err := cl.SelectCalendars(ctx, conn, ids)
	if err != nil || len(sel) != 2 || !sel[0].Selected || !sel[1].Selected || sel[0].Name != "" {
		t.Fatalf("select both: %+v, %v", sel, err)
	}

	now := d.Now()
	q := client.EventsQuery{ScheduleIDs: []string{"go-client"}, From: now.Add(-72 * time.Hour), To: now.Add(8 * 24 * time.Hour),
		TimeZone: "Europe/Berlin", Fieldset: client.FieldsetOwnPI, Limit: 1000}
	whole, err := cl.Events(ctx, q)
	if err != nil || len(whole.Events) < 5 || whole.PagingMetadata.HasNext || len(whole.Failures) != 0 {
		t.Fatalf("one page: %+v, %v", whole, err)
	}
	q.Limit = 2
	paged, failures, err := cl.AllEvents(ctx, q)
	if err != nil || len(failures) != 0 {
		t.Fatalf("paged: %v %+v", err, failures)
	}
	if len(paged) != len(whole.Events) {
		t.Fatalf("paged by 2: %d events, one page: %d", len(paged), len(whole.Events))
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	var allDay, holiday bool
	for i, e := range paged {
		if e.ID != whole.Events[i].ID || e.ConnectionID != conn || e.ProviderID != "demo" || e.Title == "" {
			t.Fatalf("event %d: %+v, want %+v", i, e, whole.Events[i])
		}
		if e.AllDay {
			allDay = allDay || (e.Start.Date != "" && e.Start.DateTime.IsZero())
		} else if _, off := e.Start.DateTime.Zone(); e.Start.TimeZone != "Europe/Berlin" || off != offsetIn(berlin, e.Start.DateTime) {
			t.Fatalf("timed event not in Europe/Berlin: %+v", e.Start)
		}
		holiday = holiday || e.CalendarName == "Team holidays"
	}
	if !allDay || !holiday {
		t.Fatalf("want an all-day event and the holiday calendar's event: %+v", paged)
	}

	fb, err := cl.FreeBusy(ctx, client.FreeBusyQuery{ScheduleIDs: q.ScheduleIDs, From: q.From, To: q.To, TimeZone: "UTC"})
	if err != nil || len(fb.Busy) == 0 {
		t.Fatalf("freebusy: %+v, %v", fb, err)
	}
	for i, b := range fb.Busy {
		if !b.End.After(b.Start) || b.Start.Before(q.From.Truncate(time.Second)) || b.End.After(q.To) || i > 0 && !b.Start.After(fb.Busy[i-1].End) {
			t.Fatalf("busy %d: %+v, not sorted, merged and inside the window", i, fb.Busy)
		}
	}
	if _, err := cl.FreeBusy(ctx, client.FreeBusyQuery{From: q.From, To: q.To}); client.ErrorCode(err) != client.CodeInvalidArgument {
		t.Fatalf("no schedule: %v", err)
	}

	// Google's SDK as an app already has it: its own endpoint, rerouted by
	// client.Transport to /proxy; and pointed at /proxy itself.
	google := func(t *testing.T, opts ...option.ClientOption) []*calendar.Event {
		svc, err := calendar.NewService(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := svc.Events.List("primary").SingleEvents(true).OrderBy("startTime").
			TimeMin(q.From.Format(time.RFC3339)).TimeMax(q.To.Format(time.RFC3339)).Context(ctx).Do()
		if err != nil {
			t.Fatal(err)
		}
		return evs.Items
	}
	check := func(t *testing.T, items []*calendar.Event) {
		var titles []string
		for _, e := range items {
			titles = append(titles, e.Summary)
		}
		if len(items) < 5 || !slices.Contains(titles, "Daily stand-up") || !slices.Contains(titles, "Team offsite") {
			t.Fatalf("Google SDK listed %q", titles)
		}
	}
	t.Run("google SDK, its own endpoint", func(t *testing.T) {
		hc := &http.Client{Transport: cl.Transport(conn, "https://www.googleapis.com/calendar/v3")}
		check(t, google(t, option.WithHTTPClient(hc)))
	})
	t.Run("google SDK, endpoint /proxy/{id}/", func(t *testing.T) {
		base := d.URL + "/proxy/" + conn + "/"
		hc := &http.Client{Transport: cl.Transport(conn, base)}
		check(t, google(t, option.WithHTTPClient(hc), option.WithEndpoint(base)))
	})
}

func offsetIn(loc *time.Location, t time.Time) int {
	_, off := t.In(loc).Zone()
	return off
}

// examples/client, built and run against a live broker, prints the demo
// schedule's busy times.
func TestExampleClient(t *testing.T) {
	d := newDemoBroker(t, nil)
	if conn := d.connectDemo(t, "example-schedule", "allow").Query().Get("connectionId"); conn == "" {
		t.Fatal("no connection")
	}
	bin := filepath.Join(t.TempDir(), "client")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/client").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/client: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "example-schedule")
	cmd.Env = append(os.Environ(), "BROKER_URL="+d.URL, "BROKER_CLIENT_SECRET="+d.App.ClientSecret)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/client: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "busy ") {
		t.Fatalf("examples/client printed:\n%s", out)
	}
	if out, err := exec.Command(bin, "nobody").CombinedOutput(); err == nil {
		t.Fatalf("examples/client without BROKER_URL worked:\n%s", out)
	}
}
