package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// A proxied call's context is the call itself: it carries the call's state
// to Rewrite and the transport, and it ends when the handler returns, when
// the caller's request context ends, or at the call's deadline
// (proxy.timeout). The deadline and the caller's context are watched by one
// sweeper per Proxy, not by a context.WithTimeout per request: that was a
// timer (two timer-heap operations), a cancel context registered in the
// request's context and a children map there, seven allocations on every
// request (2.4 % of a loaded broker's CPU, docs/performance.md). The price
// is granularity: the deadline fires, and a caller that went away is
// noticed, up to one sweep tick late (timeout/16, at most 250 ms).
// Net/http's transport bounds what comes before the response head anyway
// (dial, TLS handshake, proxy.responseHeaderTimeout); the sweep bounds the
// rest, streaming of both bodies included.
//
// The call's cancellation is a cancel context of its own, derived from
// nothing, so that making it registers nothing anywhere; it answers the
// context package's own lookup (ReverseProxy wraps the call in a
// value context, and the transport's context must find a real cancel
// context through it, or the context package starts a goroutine per
// request to watch the call).

// sweepTick is how often the sweeper looks at the calls in flight.
func sweepTick(timeout time.Duration) time.Duration {
	return min(max(timeout/16, 5*time.Millisecond), 250*time.Millisecond)
}

// callCtx is the context half of a call.
type callCtx struct {
	// parent is the request's context: values come from it, and the
	// sweeper polls its end.
	parent   context.Context
	own      context.Context
	cancel   context.CancelCauseFunc
	deadline time.Time

	// shard is the list of calls in flight this call is on; prev and
	// next link it there, listed while linked. Guarded by the shard's mu.
	shard      *sweepShard
	prev, next *call
	listed     bool
}

func (c *call) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *call) Done() <-chan struct{} { return c.own.Done() }

// Err is context.Canceled or context.DeadlineExceeded, as the end was
// asked (or the request's error, when it ended first).
func (c *call) Err() error {
	if c.own.Err() == nil {
		return nil
	}
	return context.Cause(c.own)
}

func (c *call) Value(key any) any {
	switch key.(type) {
	case ctxKey:
		return c
	case *int:
		// The context package finds a context's cancellation by a key of
		// this type: the call's own, not the request's, must answer.
		if v := c.own.Value(key); v != nil {
			return v
		}
	}
	return c.parent.Value(key)
}

// begin makes c the context of a call on behalf of the request context
// parent, ending at the latest timeout from now, and puts it in flight.
func (s *sweeper) begin(c *call, parent context.Context) {
	c.parent = parent
	c.own, c.cancel = context.WithCancelCause(context.Background())
	now := time.Now()
	c.deadline = now.Add(s.timeout)
	// Any spread will do: the clock's low bits pick the shard.
	c.shard = &s.shards[uint64(now.UnixNano()>>6)%sweepShards]
	sh := c.shard
	sh.mu.Lock()
	c.prev, c.next, c.listed = sh.tail, nil, true
	if sh.tail != nil {
		sh.tail.next = c
	} else {
		sh.head = c
	}
	sh.tail = c
	sh.mu.Unlock()
	if !s.running.Load() && s.running.CompareAndSwap(false, true) {
		go s.run()
	}
}

// finish ends a call whose handler returns.
func (s *sweeper) finish(c *call) {
	sh := c.shard
	sh.mu.Lock()
	sh.unlink(c)
	sh.mu.Unlock()
	c.cancel(context.Canceled)
}

// sweepShards spreads the calls in flight over this many lists, each with
// its own lock, so that requests on many cores do not queue for one mutex
// twice each (a timer per request, before, was per-P in the runtime).
const sweepShards = 32

// sweeper watches the calls in flight of one Proxy. Its goroutine runs
// while there are any and stops at the first tick that finds none.
type sweeper struct {
	timeout, tick time.Duration
	running       atomic.Bool
	shards        [sweepShards]sweepShard
}

// sweepShard is one list of calls in flight, in start order (so in
// deadline order), padded to its own cache line.
type sweepShard struct {
	mu         sync.Mutex
	head, tail *call
	_          [40]byte
}

func (sh *sweepShard) unlink(c *call) {
	if !c.listed {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		sh.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		sh.tail = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

type ending struct {
	c   *call
	err error
}

func (s *sweeper) run() {
	t := time.NewTicker(s.tick)
	defer t.Stop()
	var ends []ending
	for now := range t.C {
		busy := false
		for i := range s.shards {
			sh := &s.shards[i]
			sh.mu.Lock()
			for c := sh.head; c != nil; {
				next := c.next
				if !now.Before(c.deadline) {
					ends = append(ends, ending{c, context.DeadlineExceeded})
					sh.unlink(c)
				} else if err := c.parent.Err(); err != nil {
					ends = append(ends, ending{c, err})
					sh.unlink(c)
				}
				c = next
			}
			busy = busy || sh.head != nil
			sh.mu.Unlock()
		}
		// Outside the locks: ending a call cancels the transport's context,
		// which closes connections.
		for i, e := range ends {
			e.c.cancel(e.err)
			ends[i] = ending{}
		}
		ends = ends[:0]
		if !busy {
			// Stop, unless a call came in after its shard was looked at
			// and saw the sweeper still running: then carry on.
			s.running.Store(false)
			if !s.anyInFlight() || !s.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

func (s *sweeper) anyInFlight() bool {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		busy := sh.head != nil
		sh.mu.Unlock()
		if busy {
			return true
		}
	}
	return false
}
