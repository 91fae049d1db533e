package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

var outboxTests = []test{
	{"ClaimCompleteRetryFail", testOutbox},
	{"ConnectionOrder", testOutboxOrder},
	{"ListRedeliverPrune", testOutboxLog},
	{"ConnectionEventsShareTheChangesTransaction", testConnectionEvents},
	{"AppWebhookStateRoundTrips", func(t *testing.T, s store.Store) {
		createApp(t, s, "app_a")
		got, err := s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) {
			a.WebhookSecretPrev = []byte("old sealed secret")
			a.WebhookSecretPrevUntil = base.Add(24 * time.Hour)
			a.WebhooksDisabledAt = base.Add(time.Minute)
			return a, nil
		})
		must(t, err, "UpdateApp")
		read, err := s.GetApp(t.Context(), "app_a")
		must(t, err, "GetApp")
		equal(t, read, got, "app with webhook state")
		got, err = s.UpdateApp(t.Context(), "app_a", func(a model.App) (model.App, error) {
			a.WebhookSecretPrev, a.WebhookSecretPrevUntil, a.WebhooksDisabledAt = nil, time.Time{}, time.Time{}
			return a, nil
		})
		must(t, err, "UpdateApp")
		read, err = s.GetApp(t.Context(), "app_a")
		must(t, err, "GetApp")
		equal(t, read, got, "app with webhook state cleared")
	}},
	{"ConcurrentClaimsTakeEachEventOnce", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const events, claimers = 20, 5
		for i := range events {
			// Two connections and unordered events: ordering must not
			// make claimers take one event twice either.
			e := newEvent(fmt.Sprintf("whk_%02d", i), "app_a", base)
			e.ConnectionID = []string{"", "con_x", "con_y"}[i%3]
			must(t, s.EnqueueWebhook(ctx, e), "EnqueueWebhook")
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
					for _, e := range es {
						// Delivered: the connection's next event becomes due.
						if err := s.CompleteWebhook(ctx, e.ID, base, 200); err != nil {
							t.Error(err)
						}
					}
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
		Payload: []byte(`{"type":"connection.created"}`), NextAttemptAt: due, CreatedAt: due}
}

func eventIDs(es []model.WebhookEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
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
	equal(t, eventIDs(claimed), []string{"whk_1", "whk_2", "whk_4"}, "first claim (in enqueue order)")
	for _, e := range claimed {
		if e.Attempts != 1 || !e.NextAttemptAt.Equal(now.Add(5*time.Minute)) || string(e.Payload) != string(e1.Payload) ||
			e.Status != model.DeliveryPending || e.Seq == 0 {
			t.Errorf("claimed %s: attempts %d, next %v, status %q, seq %d", e.ID, e.Attempts, e.NextAttemptAt, e.Status, e.Seq)
		}
	}
	again, err := s.ClaimWebhooks(ctx, now.Add(4*time.Minute), 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(again), []string(nil), "claim while locked")

	must(t, s.CompleteWebhook(ctx, "whk_1", now.Add(time.Second), 204), "CompleteWebhook")
	wantErr(t, s.RetryWebhook(ctx, "whk_2", 2, now.Add(2*time.Hour), 500, "HTTP 500"), model.ErrNotFound,
		"RetryWebhook of another claim's attempt")
	must(t, s.RetryWebhook(ctx, "whk_2", 1, now.Add(2*time.Hour), 500, "HTTP 500"), "RetryWebhook")
	wantErr(t, s.CompleteWebhook(ctx, "whk_missing", now, 200), model.ErrNotFound, "CompleteWebhook of a missing id")
	wantErr(t, s.RetryWebhook(ctx, "whk_missing", 1, now, 0, "x"), model.ErrNotFound, "RetryWebhook of a missing id")

	// The lock has passed: the unfinished whk_4 comes back; whk_3 is due;
	// whk_2 waits for its retry time; whk_1 is delivered.
	later, err := s.ClaimWebhooks(ctx, now.Add(time.Hour+time.Second), 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(later), []string{"whk_3", "whk_4"}, "claim after the lock passed")
	if later[1].Attempts != 2 {
		t.Errorf("whk_4 attempts = %d, want 2", later[1].Attempts)
	}
	must(t, s.CompleteWebhook(ctx, "whk_3", now.Add(time.Hour+2*time.Second), 200), "CompleteWebhook")
	must(t, s.FailWebhook(ctx, "whk_4", 2, now.Add(time.Hour+2*time.Second), 410, "HTTP 410 Gone"), "FailWebhook")
	wantErr(t, s.FailWebhook(ctx, "whk_4", 2, now, 0, "x"), model.ErrNotFound, "FailWebhook of a failed event")

	retried, err := s.ClaimWebhooks(ctx, now.Add(2*time.Hour), 1, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(retried), []string{"whk_2"}, "claim at the retry time, limit 1")
	// A released claim counts no attempt and is due again when it says.
	wantErr(t, s.ReleaseWebhook(ctx, "whk_2", 1, now.Add(3*time.Hour)), model.ErrNotFound, "ReleaseWebhook of another claim")
	must(t, s.ReleaseWebhook(ctx, "whk_2", 2, now.Add(3*time.Hour)), "ReleaseWebhook")
	early, err := s.ClaimWebhooks(ctx, now.Add(3*time.Hour-time.Second), 10, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(early), []string(nil), "claim before a released event is due")
	retried, err = s.ClaimWebhooks(ctx, now.Add(3*time.Hour), 1, 5*time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(retried), []string{"whk_2"}, "claim of the released event")
	if retried[0].LastError != "HTTP 500" || retried[0].LastStatusCode != 500 || retried[0].Attempts != 2 {
		t.Errorf("retried event: lastError %q code %d attempts %d", retried[0].LastError, retried[0].LastStatusCode, retried[0].Attempts)
	}
	none, err := s.ClaimWebhooks(ctx, now.Add(100*time.Hour), 10, time.Minute)
	must(t, err, "ClaimWebhooks")
	equal(t, eventIDs(none), []string{"whk_2"}, "only the unfinished event comes back; delivered and failed ones never")

	got, err := s.GetWebhook(ctx, "app_b", "whk_4")
	must(t, err, "GetWebhook")
	if got.Status != model.DeliveryFailed || !got.FailedAt.Equal(now.Add(time.Hour+2*time.Second)) || got.LastStatusCode != 410 {
		t.Errorf("failed event = %+v", got)
	}
	_, err = s.GetWebhook(ctx, "app_a", "whk_4")
	wantErr(t, err, model.ErrNotFound, "GetWebhook of another app's event")
}

// testOutboxOrder: a later event of a connection is not claimed while an
// earlier one is pending (in flight or waiting for its retry); other
// connections are not held up.
func testOutboxOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	mk := func(id, conn string) model.WebhookEvent {
		e := newEvent(id, "app_a", base)
		e.ConnectionID = conn
		return e
	}
	for _, e := range []model.WebhookEvent{mk("whk_a1", "con_a"), mk("whk_b1", "con_b"), mk("whk_a2", "con_a"),
		mk("whk_t", ""), mk("whk_a3", "con_a"), mk("whk_b2", "con_b")} {
		must(t, s.EnqueueWebhook(ctx, e), "EnqueueWebhook")
	}
	claim := func(at time.Time) []string {
		es, err := s.ClaimWebhooks(ctx, at, 10, time.Minute)
		must(t, err, "ClaimWebhooks")
		return eventIDs(es)
	}
	equal(t, claim(base), []string{"whk_a1", "whk_b1", "whk_t"}, "first claim: the head of each connection, and the unordered event")
	must(t, s.RetryWebhook(ctx, "whk_a1", 1, base.Add(time.Hour), 503, "HTTP 503"), "RetryWebhook")
	must(t, s.CompleteWebhook(ctx, "whk_b1", base, 200), "CompleteWebhook")
	must(t, s.CompleteWebhook(ctx, "whk_t", base, 200), "CompleteWebhook")
	equal(t, claim(base.Add(2*time.Minute)), []string{"whk_b2"}, "con_a waits for its retried head; con_b goes on")
	must(t, s.CompleteWebhook(ctx, "whk_b2", base, 200), "CompleteWebhook")
	equal(t, claim(base.Add(time.Hour)), []string{"whk_a1"}, "the retry is due")
	must(t, s.FailWebhook(ctx, "whk_a1", 2, base.Add(time.Hour), 500, "HTTP 500"), "FailWebhook")
	equal(t, claim(base.Add(time.Hour)), []string{"whk_a2"}, "a failed head no longer holds its connection")
}

func testOutboxLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 5 {
		e := newEvent(fmt.Sprintf("whk_%d", i), "app_a", base.Add(time.Duration(i)*time.Second))
		if i == 4 {
			e.Type = model.EventWebhookTest
		}
		must(t, s.EnqueueWebhook(ctx, e), "EnqueueWebhook")
	}
	must(t, s.EnqueueWebhook(ctx, newEvent("whk_other", "app_b", base)), "EnqueueWebhook")
	_, err := s.ClaimWebhooks(ctx, base.Add(time.Minute), 10, time.Minute)
	must(t, err, "ClaimWebhooks")
	must(t, s.CompleteWebhook(ctx, "whk_0", base.Add(time.Minute), 200), "CompleteWebhook")
	must(t, s.FailWebhook(ctx, "whk_1", 1, base.Add(time.Minute), 500, "HTTP 500"), "FailWebhook")

	list := func(f store.WebhookFilter) []model.WebhookEvent {
		f.AppID = "app_a"
		es, err := s.ListWebhooks(ctx, f)
		must(t, err, "ListWebhooks")
		return es
	}
	equal(t, eventIDs(list(store.WebhookFilter{})), []string{"whk_4", "whk_3", "whk_2", "whk_1", "whk_0"}, "newest first, own app only")
	page := list(store.WebhookFilter{Limit: 2})
	equal(t, eventIDs(page), []string{"whk_4", "whk_3"}, "first page")
	equal(t, eventIDs(list(store.WebhookFilter{Limit: 2, BeforeSeq: page[1].Seq})), []string{"whk_2", "whk_1"}, "second page")
	equal(t, eventIDs(list(store.WebhookFilter{Status: model.DeliveryFailed})), []string{"whk_1"}, "status filter")
	equal(t, eventIDs(list(store.WebhookFilter{Type: model.EventWebhookTest})), []string{"whk_4"}, "type filter")

	_, err = s.RedeliverWebhook(ctx, "app_a", "whk_2", base.Add(time.Hour))
	wantErr(t, err, model.ErrConflict, "redeliver a pending event")
	_, err = s.RedeliverWebhook(ctx, "app_b", "whk_1", base.Add(time.Hour))
	wantErr(t, err, model.ErrNotFound, "redeliver another app's event")
	e, err := s.RedeliverWebhook(ctx, "app_a", "whk_1", base.Add(time.Hour))
	must(t, err, "RedeliverWebhook")
	if e.Status != model.DeliveryPending || e.Attempts != 0 || !e.NextAttemptAt.Equal(base.Add(time.Hour)) || !e.FailedAt.IsZero() {
		t.Errorf("redelivered event = %+v", e)
	}

	// Only finished events past their retention go.
	must(t, s.CompleteWebhook(ctx, "whk_2", base.Add(3*time.Minute), 200), "CompleteWebhook")
	must(t, s.FailWebhook(ctx, "whk_3", 1, base.Add(time.Minute), 500, "x"), "FailWebhook")
	n, err := s.PruneWebhooks(ctx, base.Add(2*time.Minute), base.Add(2*time.Minute), 0)
	must(t, err, "PruneWebhooks")
	equal(t, n, 2, "pruned (whk_0 delivered, whk_3 failed before the cut)")
	equal(t, eventIDs(list(store.WebhookFilter{})), []string{"whk_4", "whk_2", "whk_1"}, "after pruning")
}

// A connection change and the event reporting it are written together or
// not at all.
func testConnectionEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	ev := func(id string) store.ConnectionEvent {
		return func(prev *model.Connection, next model.Connection) (model.WebhookEvent, bool) {
			typ := model.EventConnectionReconnected
			if prev == nil {
				typ = model.EventConnectionCreated
			}
			e := model.NewConnectionEvent(typ, next, base)
			e.ID = id
			return e, true
		}
	}
	c := newConn("con_1", "app_a", "sched", "acct")
	got, created, err := s.UpsertConnectionWithEvent(ctx, c, seal, ev("whk_created"))
	must(t, err, "UpsertConnectionWithEvent")
	if !created {
		t.Fatal("not created")
	}
	e, err := s.GetWebhook(ctx, "app_a", "whk_created")
	must(t, err, "GetWebhook")
	if e.Type != model.EventConnectionCreated || e.ConnectionID != got.ID || e.Status != model.DeliveryPending {
		t.Fatalf("event %+v", e)
	}
	// prev is the row as it was: the callback sees the old status.
	var sawPrev model.ConnectionStatus
	_, err = s.UpdateConnectionWithEvent(ctx, got.ID, func(cur model.Connection) (model.Connection, error) {
		cur.Status = model.StatusNeedsReauth
		return cur, nil
	}, func(prev *model.Connection, next model.Connection) (model.WebhookEvent, bool) {
		sawPrev = prev.Status
		return model.WebhookEvent{}, false // no event
	})
	must(t, err, "UpdateConnectionWithEvent")
	equal(t, sawPrev, model.StatusConnected, "prev status seen by the event callback")

	// An event that cannot be written (its id is taken) rolls the change back.
	_, err = s.UpdateConnectionWithEvent(ctx, got.ID, func(cur model.Connection) (model.Connection, error) {
		cur.Status = model.StatusDisconnected
		return cur, nil
	}, ev("whk_created"))
	wantErr(t, err, model.ErrConflict, "UpdateConnectionWithEvent with an event that cannot be stored")
	after, err := s.GetConnectionByID(ctx, got.ID)
	must(t, err, "GetConnectionByID")
	equal(t, after.Status, model.StatusNeedsReauth, "status after the rolled-back change")
	again := newConn("con_other_id", "app_a", "sched", "acct")
	_, _, err = s.UpsertConnectionWithEvent(ctx, again, seal, ev("whk_created"))
	wantErr(t, err, model.ErrConflict, "UpsertConnectionWithEvent with an event that cannot be stored")
	after, err = s.GetConnectionByID(ctx, got.ID)
	must(t, err, "GetConnectionByID")
	equal(t, after.Status, model.StatusNeedsReauth, "status after the rolled-back upsert")

	_, _, err = s.UpsertConnectionWithEvent(ctx, again, seal, ev("whk_reconnected"))
	must(t, err, "UpsertConnectionWithEvent")
	list, err := s.ListWebhooks(ctx, store.WebhookFilter{AppID: "app_a"})
	must(t, err, "ListWebhooks")
	equal(t, eventIDs(list), []string{"whk_reconnected", "whk_created"}, "events written")
}
