package tokens

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers/google/googletest"
	"github.com/oauthbroker/broker/providers/providertest"
)

// accountReads is the real store with its connection lookups counted.
type accountReads struct {
	store.Store
	finds, lists atomic.Int64
}

func (s *accountReads) FindConnection(ctx context.Context, k store.AccountKey) (model.Connection, error) {
	s.finds.Add(1)
	return s.Store.FindConnection(ctx, k)
}

func (s *accountReads) ListConnections(ctx context.Context, f store.ConnectionFilter) ([]model.Connection, error) {
	s.lists.Add(1)
	return s.Store.ListConnections(ctx, f)
}

// A reconnect without a refresh token (Google's second consent) finds the
// grant it keeps with one read of the account, however many connections
// the schedule holds: before, it paged through them 100 at a time.
func TestReconnectReadsThePreviousGrantOnce(t *testing.T) {
	e := newEnv(t, envOpts{fake: providertest.Options{Wire: googletest.Wire{}}})
	save := func(m *Manager, account string, tok model.Token) model.Connection {
		t.Helper()
		c, _, err := m.Save(bg(), model.Connection{AppID: e.appID, ProviderID: e.p.ID, ScheduleID: "sched-1",
			AccountID: account, ClientSource: model.ClientBroker}, tok)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := e.fake.Mint("")
	c := save(e.m, "acct_zzz", first) // sorts after every other account's connection
	for i := range 250 {
		save(e.m, fmt.Sprintf("acct_%03d", i), e.fake.Mint(""))
	}

	st := &accountReads{Store: e.st.Store}
	m := e.manager(t, st, nil)
	second := e.fake.Mint("")
	second.RefreshToken = ""
	again := save(m, "acct_zzz", second)
	if again.ID != c.ID {
		t.Fatalf("reconnect made a new connection %s", again.ID)
	}
	if _, tok := e.stored(t, c.ID); tok.RefreshToken != first.RefreshToken {
		t.Fatal("reconnect lost the refresh token it should keep")
	}
	if f, l := st.finds.Load(), st.lists.Load(); f != 1 || l != 0 {
		t.Fatalf("reconnect made %d account reads and %d list calls, want 1 and 0", f, l)
	}

	// A grant with its own refresh token needs no lookup at all.
	save(m, "acct_zzz", e.fake.Mint(""))
	if f := st.finds.Load(); f != 1 {
		t.Fatalf("a reconnect with a refresh token read the account (%d reads in all)", f)
	}
}
