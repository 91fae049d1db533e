package events

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
)

func fixture(n int) []Event {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]Event, n)
	for i := range out {
		st := base.Add(time.Duration(r.IntN(30*24*4)) * 15 * time.Minute)
		out[i] = Event{Event: providers.Event{ID: fmt.Sprint(i)}, BrokerID: fmt.Sprintf("ev_%06d", r.IntN(1e6)), sortStart: st, sortEnd: st.Add(time.Hour)}
	}
	return out
}

// Paging through events that arrive in any order with the pager returns
// each exactly once, in (start, id) order, pages exactly limit long.
func TestPagerPagesEveryEventOnce(t *testing.T) {
	evs := fixture(1003)
	want := slices.Clone(evs)
	slices.SortFunc(want, func(a, b Event) int { return less(&a, &b) })
	var got []Event
	var after *cursor
	for {
		pg := newPager(10, after)
		for _, i := range rand.Perm(len(evs)) {
			pg.add(evs[i])
		}
		res := pg.result()
		if len(res) <= 10 {
			got = append(got, res...)
			break
		}
		got = append(got, res[:10]...)
		last := res[9]
		after = &cursor{Start: last.sortStart, ID: last.BrokerID}
	}
	if len(got) != len(want) {
		t.Fatalf("paged %d events, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].BrokerID != want[i].BrokerID || !got[i].sortStart.Equal(want[i].sortStart) {
			t.Fatalf("event %d = %s, want %s", i, got[i].BrokerID, want[i].BrokerID)
		}
	}
}

// BenchmarkMerge10000 merges 10,000 events from providers into one page
// of 100 (the cost of one /v1/events page besides the provider calls).
func BenchmarkMerge10000(b *testing.B) {
	evs := fixture(10000)
	b.ReportAllocs()
	for b.Loop() {
		pg := newPager(100, nil)
		for i := range evs {
			pg.add(evs[i])
		}
		_ = pg.result()
	}
}
