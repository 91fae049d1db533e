package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

func newSession(id, appID string) model.AuthSession {
	return model.AuthSession{
		ID:           id,
		AppID:        appID,
		ProviderID:   "google",
		ScheduleID:   "sched",
		RedirectURL:  "https://example.com/cb",
		AppState:     "opaque",
		Scopes:       []string{"calendar.read"},
		LoginHint:    "ann@example.com",
		PKCEVerifier: "verifier-verifier-verifier-verifier-verifier",
		ClientSource: model.ClientApp,
		ExpiresAt:    base.Add(10 * time.Minute),
		CreatedAt:    base,
	}
}

var sessionTests = []test{
	{"CreateGetUntilExpiry", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		want := newSession("ses_1", "app_a")
		must(t, s.CreateAuthSession(ctx, want), "CreateAuthSession")
		got, err := s.GetAuthSession(ctx, "ses_1", want.ExpiresAt.Add(-time.Nanosecond))
		must(t, err, "GetAuthSession before expiry")
		equal(t, got, want, "GetAuthSession")
		_, err = s.GetAuthSession(ctx, "ses_1", want.ExpiresAt)
		wantErr(t, err, model.ErrNotFound, "GetAuthSession at expiry")
		_, err = s.GetAuthSession(ctx, "ses_missing", base)
		wantErr(t, err, model.ErrNotFound, "GetAuthSession of a missing id")
	}},
	{"CreateConflictAndMissingApp", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		must(t, s.CreateAuthSession(ctx, newSession("ses_1", "app_a")), "CreateAuthSession")
		wantErr(t, s.CreateAuthSession(ctx, newSession("ses_1", "app_a")), model.ErrConflict, "duplicate id")
		wantErr(t, s.CreateAuthSession(ctx, newSession("ses_2", "app_missing")), model.ErrNotFound, "missing app")
	}},
	{"BindOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		must(t, s.CreateAuthSession(ctx, newSession("ses_1", "app_a")), "CreateAuthSession")
		must(t, s.BindAuthSession(ctx, "ses_1", []byte("hash-1"), base), "first BindAuthSession")
		wantErr(t, s.BindAuthSession(ctx, "ses_1", []byte("hash-2"), base), model.ErrConflict, "second BindAuthSession")
		got, err := s.GetAuthSession(ctx, "ses_1", base)
		must(t, err, "GetAuthSession")
		if string(got.BindingHash) != "hash-1" {
			t.Errorf("binding hash = %q, want the first one", got.BindingHash)
		}
		wantErr(t, s.BindAuthSession(ctx, "ses_missing", []byte("h"), base), model.ErrNotFound, "bind a missing session")
		must(t, s.CreateAuthSession(ctx, newSession("ses_2", "app_a")), "CreateAuthSession")
		wantErr(t, s.BindAuthSession(ctx, "ses_2", []byte("h"), base.Add(time.Hour)), model.ErrNotFound, "bind an expired session")
	}},
	{"ConsumeOnceUnderConcurrency", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		want := newSession("ses_1", "app_a")
		want.BindingHash = []byte("bound")
		must(t, s.CreateAuthSession(ctx, want), "CreateAuthSession")
		const callers = 50
		var wins, notFound atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		var mu sync.Mutex
		var others []error
		for range callers {
			wg.Go(func() {
				<-start
				got, err := s.ConsumeAuthSession(ctx, "ses_1", base)
				switch {
				case err == nil:
					wins.Add(1)
					if got.ID != "ses_1" || string(got.BindingHash) != "bound" || got.PKCEVerifier != want.PKCEVerifier {
						mu.Lock()
						others = append(others, fmt.Errorf("winner got %+v", got))
						mu.Unlock()
					}
				case errorIs(err, model.ErrNotFound):
					notFound.Add(1)
				default:
					mu.Lock()
					others = append(others, err)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		for _, err := range others {
			t.Error(err)
		}
		if wins.Load() != 1 || notFound.Load() != callers-1 {
			t.Fatalf("%d winners and %d not found, want exactly 1 and %d", wins.Load(), notFound.Load(), callers-1)
		}
		_, err := s.GetAuthSession(ctx, "ses_1", base)
		wantErr(t, err, model.ErrNotFound, "GetAuthSession after consumption")
	}},
	{"ConsumeExpiredIsNotFound", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		sess := newSession("ses_1", "app_a")
		must(t, s.CreateAuthSession(t.Context(), sess), "CreateAuthSession")
		_, err := s.ConsumeAuthSession(t.Context(), "ses_1", sess.ExpiresAt)
		wantErr(t, err, model.ErrNotFound, "ConsumeAuthSession at expiry")
	}},
	{"DeleteExpired", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		for i, exp := range []time.Duration{time.Minute, 2 * time.Minute, time.Hour} {
			sess := newSession(fmt.Sprintf("ses_%d", i), "app_a")
			sess.ExpiresAt = base.Add(exp)
			must(t, s.CreateAuthSession(ctx, sess), "CreateAuthSession")
		}
		n, err := s.DeleteExpiredAuthSessions(ctx, base.Add(2*time.Minute))
		must(t, err, "DeleteExpiredAuthSessions")
		if n != 2 {
			t.Errorf("deleted %d, want 2", n)
		}
		_, err = s.GetAuthSession(ctx, "ses_2", base)
		must(t, err, "the live session survives")
	}},
	{"CountPendingPerApp", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		createApp(t, s, "app_a")
		createApp(t, s, "app_b")
		for i, exp := range []time.Duration{time.Minute, 5 * time.Minute, time.Hour} {
			sess := newSession(fmt.Sprintf("ses_a%d", i), "app_a")
			sess.ExpiresAt = base.Add(exp)
			must(t, s.CreateAuthSession(ctx, sess), "CreateAuthSession")
		}
		must(t, s.CreateAuthSession(ctx, newSession("ses_b", "app_b")), "CreateAuthSession")
		for _, tc := range []struct {
			app  string
			at   time.Duration
			want int
		}{{"app_a", 0, 3}, {"app_a", 2 * time.Minute, 2}, {"app_a", 2 * time.Hour, 0}, {"app_b", 0, 1}, {"app_c", 0, 0}} {
			n, err := s.CountAuthSessions(ctx, tc.app, base.Add(tc.at))
			must(t, err, "CountAuthSessions")
			if n != tc.want {
				t.Errorf("%s at +%s: %d pending, want %d", tc.app, tc.at, n, tc.want)
			}
		}
		if _, err := s.ConsumeAuthSession(ctx, "ses_a2", base); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.CountAuthSessions(ctx, "app_a", base); n != 2 {
			t.Errorf("after consuming one: %d pending, want 2", n)
		}
	}},
}

var leaseTests = []test{
	{"OneHolderAmongContenders", func(t *testing.T, s store.Store) {
		const contenders = 20
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, contenders)
		for i := range contenders {
			wg.Go(func() {
				<-start
				ok, err := s.AcquireLease(t.Context(), "refresh:con_1", fmt.Sprintf("replica-%d", i), time.Minute, base)
				if err != nil {
					errs <- err
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if wins.Load() != 1 {
			t.Fatalf("%d holders, want exactly 1", wins.Load())
		}
	}},
	{"ReacquireExpireRelease", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		acquire := func(holder string, at time.Time) bool {
			t.Helper()
			ok, err := s.AcquireLease(ctx, "lease", holder, time.Minute, at)
			must(t, err, "AcquireLease")
			return ok
		}
		steps := []struct {
			name   string
			do     func() bool
			wantOK bool
		}{
			{"a takes the free lease", func() bool { return acquire("a", base) }, true},
			{"b is refused while a holds it", func() bool { return acquire("b", base.Add(30*time.Second)) }, false},
			{"a extends its own lease", func() bool { return acquire("a", base.Add(50*time.Second)) }, true},
			{"b is refused before the extension ends", func() bool { return acquire("b", base.Add(100*time.Second)) }, false},
			{"b takes it once expired", func() bool { return acquire("b", base.Add(110*time.Second)) }, true},
			{"a is refused now", func() bool { return acquire("a", base.Add(111*time.Second)) }, false},
			{"a's release of b's lease does nothing", func() bool {
				must(t, s.ReleaseLease(ctx, "lease", "a"), "ReleaseLease")
				return acquire("c", base.Add(112*time.Second))
			}, false},
			{"after b releases, c takes it", func() bool {
				must(t, s.ReleaseLease(ctx, "lease", "b"), "ReleaseLease")
				return acquire("c", base.Add(113*time.Second))
			}, true},
			{"a is refused while c holds it", func() bool { return acquire("a", base.Add(114*time.Second)) }, false},
			{"another name is independent", func() bool {
				ok, err := s.AcquireLease(ctx, "other", "a", time.Minute, base.Add(114*time.Second))
				must(t, err, "AcquireLease")
				return ok
			}, true},
		}
		for _, st := range steps {
			if got := st.do(); got != st.wantOK {
				t.Fatalf("%s: acquired = %v, want %v", st.name, got, st.wantOK)
			}
		}
		must(t, s.ReleaseLease(ctx, "never-held", "a"), "ReleaseLease of a free lease")
	}},
}
