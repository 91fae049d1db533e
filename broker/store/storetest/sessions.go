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

var outboxTests = []test{
	{"ClaimCompleteRetry", testOutbox},
	{"ConcurrentClaimsTakeEachEventOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const events, claimers = 20, 5
		for i := range events {
			must(t, s.EnqueueWebhook(ctx, newEvent(fmt.Sprintf("whk_%02d", i), "app_a", base)), "EnqueueWebhook")
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range claimers {
			wg.Go(func() {
				<-start
				for {
					es, err := s.ClaimWebhooks(ctx, base, 3, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(es) == 0 {
						return
					}
					mu.Lock()
					for _, e := range es {
						seen[e.ID]++
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if len(seen) != events {
			t.Errorf("claimed %d distinct events, want %d", len(seen), events)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s claimed %d times", id, n)
			}
		}
	}},
}

func newEvent(id, appID string, due time.Time) model.WebhookEvent {
	return model.WebhookEvent{ID: id, AppID: appID, Type: model.EventConnectionCreated,
		Payload: []byte(`{"connectionId":"con_1"}`), NextAttemptAt: due, CreatedAt: due}
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := func(es []model.WebhookEvent) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	e1 := newEvent("whk_1", "app_a", base)
	e2 := newEvent("whk_2", "app_a", base.Add(time.Second))
	e3 := newEvent("whk_3", "app_a", base.Add(time.Hour)) // not due yet
	e4 := newEvent("whk_4", "app_b", base)
	for _, e := range []model.WebhookEvent{e1, e2, e3, e4} {
		must(t, s.EnqueueWebhook(ctx, e), "EnqueueWebhook")
	}
	wantErr(t, s.EnqueueWebhook(ctx, e1), model.ErrConflict, "duplicate EnqueueWebhook")

	now := base.Add(time.Minute)
	claimed, err := s.ClaimWebhooks(ctx, now, 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, ids(claimed), []string{"whk_1", "whk_4", "whk_2"}, "first claim (oldest first)")
	for _, e := range claimed {
		if e.Attempts != 1 || !e.NextAttemptAt.Equal(now.Add(5*time.Minute)) || string(e.Payload) != string(e1.Payload) {
			t.Errorf("claimed %s: attempts %d, next %v", e.ID, e.Attempts, e.NextAttemptAt)
		}
	}
	again, err := s.ClaimWebhooks(ctx, now.Add(4*time.Minute), 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, ids(again), []string(nil), "claim while locked")

	must(t, s.CompleteWebhook(ctx, "whk_1", now.Add(time.Second)), "CompleteWebhook")
	must(t, s.RetryWebhook(ctx, "whk_2", now.Add(2*time.Hour), "http 500"), "RetryWebhook")
	wantErr(t, s.CompleteWebhook(ctx, "whk_missing", now), model.ErrNotFound, "CompleteWebhook of a missing id")
	wantErr(t, s.RetryWebhook(ctx, "whk_missing", now, "x"), model.ErrNotFound, "RetryWebhook of a missing id")

	// The lock has passed: the unfinished whk_4 comes back; whk_3 is due;
	// whk_2 waits for its retry time; whk_1 is delivered.
	later, err := s.ClaimWebhooks(ctx, now.Add(time.Hour+time.Second), 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, ids(later), []string{"whk_4", "whk_3"}, "claim after the lock passed")
	if later[0].Attempts != 2 {
		t.Errorf("whk_4 attempts = %d, want 2", later[0].Attempts)
	}
	for _, e := range later {
		must(t, s.CompleteWebhook(ctx, e.ID, now.Add(time.Hour+2*time.Second)), "CompleteWebhook")
	}
	retried, err := s.ClaimWebhooks(ctx, now.Add(2*time.Hour), 1, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, ids(retried), []string{"whk_2"}, "claim at the retry time, limit 1")
	if retried[0].LastError != "http 500" || retried[0].Attempts != 2 {
		t.Errorf("retried event: lastError %q attempts %d", retried[0].LastError, retried[0].Attempts)
	}

	list, err := s.ListWebhooks(ctx, "app_a", 10)
	must(t, err, "ListWebhooks")
	equal(t, ids(list), []string{"whk_3", "whk_2", "whk_1"}, "ListWebhooks newest first")
	if !list[2].DeliveredAt.Equal(now.Add(time.Second)) {
		t.Errorf("whk_1 deliveredAt = %v", list[2].DeliveredAt)
	}
	list, err = s.ListWebhooks(ctx, "app_a", 1)
	must(t, err, "ListWebhooks")
	equal(t, ids(list), []string{"whk_3"}, "ListWebhooks limit 1")
}
