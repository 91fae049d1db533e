package pgtest_test

import (
	"fmt"
	"testing"

	"github.com/oauthbroker/broker/broker/store/pgtest"
)

// recorder stands in for testing.TB and records whether DSN skipped or
// failed; both stop DSN, as the real ones do, by panicking out of it.
type recorder struct {
	testing.TB
	outcome string
}

type stop struct{}

func (r *recorder) Helper()        {}
func (r *recorder) Cleanup(func()) {}
func (r *recorder) Skipf(format string, a ...any) {
	r.outcome = "skip: " + fmt.Sprintf(format, a...)
	panic(stop{})
}
func (r *recorder) Fatalf(format string, a ...any) {
	r.outcome = "fatal: " + fmt.Sprintf(format, a...)
	panic(stop{})
}

func run(r *recorder) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stop); !ok {
				panic(v)
			}
		}
	}()
	pgtest.DSN(r)
}

func TestUnreachableServerSkipsExceptInCI(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	t.Setenv(pgtest.EnvDSN, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	for _, tc := range []struct{ ci, want string }{{"", "skip"}, {"false", "skip"}, {"true", "fatal"}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			run(r)
			if len(r.outcome) < len(tc.want) || r.outcome[:len(tc.want)] != tc.want {
				t.Fatalf("outcome %q, want %s", r.outcome, tc.want)
			}
		})
	}
}
