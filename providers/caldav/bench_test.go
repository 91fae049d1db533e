package caldav_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/caldav"
	"github.com/oauthbroker/broker/providers/caldav/caldavtest"
)

// BenchmarkListEvents2500 reads 2,500 single events of a 30-day window in
// one REPORT from go-webdav's server in the same process (its time and
// allocations are included).
func BenchmarkListEvents2500(b *testing.B) {
	s := caldavtest.NewServer(b, user, pass)
	base := date("2026-06-01T00:00:00Z")
	for i := range 2500 {
		st := base.Add(time.Duration(i) * 17 * time.Minute)
		s.MustPut(b, "personal", fmt.Sprint("e", i), ics(fmt.Sprintf("BEGIN:VEVENT\nUID:e%d\nDTSTAMP:20260101T000000Z\nDTSTART:%s\nDTEND:%s\nSUMMARY:Event %d\nDESCRIPTION:Some text the broker never keeps\nEND:VEVENT\n",
			i, st.Format("20060102T150405Z"), st.Add(30*time.Minute).Format("20060102T150405Z"), i)))
	}
	benchList(b, s, 2500)
}

// BenchmarkExpandDaily100 expands 100 daily series that began in 2020
// (walked from their start) over a 30-day window: 3,000 occurrences.
func BenchmarkExpandDaily100(b *testing.B) {
	s := caldavtest.NewServer(b, user, pass)
	for i := range 100 {
		s.MustPut(b, "personal", fmt.Sprint("d", i), ics(fmt.Sprintf("BEGIN:VEVENT\nUID:d%d\nDTSTAMP:20200101T000000Z\nDTSTART;TZID=Europe/Berlin:20200101T%02d0000\nDURATION:PT30M\nRRULE:FREQ=DAILY\nEXDATE;TZID=Europe/Berlin:20260610T%02d0000\nEND:VEVENT\n", i, 6+i%12, 6+i%12)))
	}
	benchList(b, s, 2900)
}

func benchList(b *testing.B, s *caldavtest.Server, want int) {
	from, to := date("2026-06-01T00:00:00Z"), date("2026-07-01T00:00:00Z")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := (caldav.Room{}).ListEvents(b.Context(), call(s, pass), caldavtest.PersonalID, from, to, func(providers.Event) error { n++; return nil }); err != nil || n != want {
			b.Fatalf("%d events, %v", n, err)
		}
	}
}
