package storetest

import (
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

var statsTests = []test{
	{"CountsAndBacklog", func(t *testing.T, s store.Store) {
		st, ok := s.(store.Stats)
		if !ok {
			t.Fatal("the store has no store.Stats: /metrics would lack connections by status and the webhook backlog")
		}
		ctx := t.Context()
		counts, err := st.CountConnections(ctx)
		must(t, err, "CountConnections")
		if len(counts) != 0 {
			t.Errorf("empty store counts %v", counts)
		}
		n, oldest, err := st.WebhookBacklog(ctx)
		must(t, err, "WebhookBacklog")
		if n != 0 || !oldest.IsZero() {
			t.Errorf("empty backlog = %d, %v", n, oldest)
		}

		createApp(t, s, "app_a")
		upsert(t, s, newConn("con_1", "app_a", "s1", "acc1"))
		upsert(t, s, newConn("con_2", "app_a", "s1", "acc2"))
		c3 := newConn("con_3", "app_a", "s1", "acc3")
		c3.Status = model.StatusNeedsReauth
		upsert(t, s, c3)
		counts, err = st.CountConnections(ctx)
		must(t, err, "CountConnections")
		if counts[string(model.StatusConnected)] != 2 || counts[string(model.StatusNeedsReauth)] != 1 || len(counts) != 2 {
			t.Errorf("counts = %v, want 2 %s and 1 %s", counts, model.StatusConnected, model.StatusNeedsReauth)
		}

		// The oldest pending event sets the age; delivered ones do not count.
		must(t, s.EnqueueWebhook(ctx, newEvent("whk_old", "app_a", base)), "EnqueueWebhook")
		must(t, s.EnqueueWebhook(ctx, newEvent("whk_new", "app_a", base.Add(time.Minute))), "EnqueueWebhook")
		must(t, s.EnqueueWebhook(ctx, newEvent("whk_new2", "app_a", base.Add(2*time.Minute))), "EnqueueWebhook")
		es, err := s.ClaimWebhooks(ctx, base, 1, time.Minute)
		must(t, err, "ClaimWebhooks")
		if len(es) != 1 || es[0].ID != "whk_old" {
			t.Fatalf("claimed %v, want whk_old", eventIDs(es))
		}
		must(t, s.CompleteWebhook(ctx, "whk_old", base, 200), "CompleteWebhook")
		n, oldest, err = st.WebhookBacklog(ctx)
		must(t, err, "WebhookBacklog")
		if n != 2 || !oldest.Equal(base.Add(time.Minute)) {
			t.Errorf("backlog = %d oldest %v, want 2 oldest %v", n, oldest, base.Add(time.Minute))
		}
	}},
}
