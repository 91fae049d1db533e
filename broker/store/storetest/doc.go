// Package storetest is the conformance suite every store.Store backend runs,
// so the backends cannot drift apart. A backend's test is a few lines:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... a fresh, empty store ... })
//	}
//
// The suite checks what callers rely on: sentinels, compare-and-swap
// updates, single-use consumption under concurrency, lease exclusivity and
// the outbox's claim semantics. It uses fixed clocks, never timing.
package storetest
