package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

// Benchmark measures the operations on the broker's hot and contended
// paths, the same way for every backend. newStore returns a fresh, empty
// store; the suite migrates it.
func Benchmark(b *testing.B, newStore func(b *testing.B) store.Store) {
	setup := func(b *testing.B) store.Store {
		b.Helper()
		s := newStore(b)
		ctx := b.Context()
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateApp(ctx, newApp("app_a", "a", base)); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.UpsertConnectionWithEvent(ctx, newConn("con_1", "app_a", "sched", "acct"), seal, nil); err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("GetConnection", func(b *testing.B) {
		s := setup(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.GetConnection(b.Context(), "app_a", "con_1"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("UpsertConnection", func(b *testing.B) {
		s := setup(b)
		i := 0
		for b.Loop() {
			i++
			id := fmt.Sprintf("con_b%d", i)
			if _, _, err := s.UpsertConnectionWithEvent(b.Context(), newConn(id, "app_a", "sched", id), seal, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UpdateConnection", func(b *testing.B) {
		s := setup(b)
		for b.Loop() {
			if _, err := s.UpdateConnection(b.Context(), "con_1", func(c model.Connection) (model.Connection, error) {
				c.LastUsedAt = c.LastUsedAt.Add(time.Second)
				return c, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CreateAndConsumeAuthSession", func(b *testing.B) {
		s := setup(b)
		i := 0
		for b.Loop() {
			i++
			id := fmt.Sprintf("ses_%d", i)
			if err := s.CreateAuthSession(b.Context(), newSession(id, "app_a")); err != nil {
				b.Fatal(err)
			}
			if _, err := s.ConsumeAuthSession(b.Context(), id, base); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AcquireLease", func(b *testing.B) {
		s := setup(b)
		for b.Loop() {
			if _, err := s.AcquireLease(b.Context(), "refresh:con_1", "replica-1", time.Minute, base); err != nil {
				b.Fatal(err)
			}
		}
	})
}
