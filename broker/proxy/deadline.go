package proxy

import (
	"context"
	"sync"
	"time"
)

// A proxied call's context is the call itself: it carries the call's state
// to Rewrite and the transport, and it ends when the handler returns, when
// the caller's request context ends, or at the call's deadline
// (proxy.timeout). The deadline and the caller's context are watched by one
// sweeper per Proxy, not by a context.WithTimeout per request: that was a
// timer, a cancel context registered in the request's context and a second
// children map for the transport's own context, seven allocations and two
// timer-heap operations on every request (2.4 % of a loaded broker's CPU,
// docs/performance.md). The price is granularity: the deadline fires, and
// a caller that went away is noticed, up to one sweep tick late
// (timeout/16, at most 250 ms). Net/http's transport bounds what comes
// before the response head anyway (dial, TLS handshake,
// proxy.responseHeaderTimeout); the sweep bounds the rest, streaming of
// both bodies included.

// sweepTick is how often the sweeper looks at the calls in flight.
func sweepTick(timeout time.Duration) time.Duration {
	return min(max(timeout/16, 5*time.Millisecond), 250*time.Millisecond)
}

// callCtx is the context half of a call.
type callCtx struct {
	// parent is the request's context: Value passes to it, and the
	// sweeper polls its end.
	parent   context.Context
	deadline time.Time
	done     chan struct{}

	mu  sync.Mutex
	err error
	// afters are the functions the context package registered to cancel
	// this context's children (the transport's); nil entries were stopped.
	afters   []func()
	afterBuf [2]func()

	// prev and next link the calls in flight, in start order (so in
	// deadline order); listed while linked.
	prev, next *call
	listed     bool
}

func (c *call) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *call) Done() <-chan struct{} { return c.done }

func (c *call) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *call) Value(key any) any {
	switch key.(type) {
	case ctxKey:
		return c
	case *int:
		// The context package finds a context's own cancellation by Value
		// with a key of this type. The request's must not answer for this
		// context, or context.Cause of this context would be the
		// request's (nil while the request lives). context.WithoutCancel
		// does the same, but allocates on every Value through it.
		v := c.parent.Value(key)
		if _, ok := v.(context.Context); ok {
			return nil
		}
		return v
	}
	return c.parent.Value(key)
}

// AfterFunc lets the context package register a child without a goroutine
// (context.WithCancel and AfterFunc on this context call it): f runs once
// this context ends, unless stop ran first.
func (c *call) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	i := len(c.afters)
	c.afters = append(c.afters, f)
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.err != nil || c.afters[i] == nil {
			return false
		}
		c.afters[i] = nil
		return true
	}
}

// end ends the context with err (the first end wins) and cancels its
// children.
func (c *call) end(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	close(c.done)
	fs := c.afters
	c.mu.Unlock()
	for _, f := range fs {
		if f != nil {
			f()
		}
	}
}

// begin makes c the context of a call on behalf of the request context
// parent, ending at the latest timeout from now, and puts it in flight.
func (s *sweeper) begin(c *call, parent context.Context) {
	c.parent = parent
	c.deadline = time.Now().Add(s.timeout)
	c.done = make(chan struct{})
	c.afters = c.afterBuf[:0]
	s.mu.Lock()
	c.prev, c.next, c.listed = s.tail, nil, true
	if s.tail != nil {
		s.tail.next = c
	} else {
		s.head = c
	}
	s.tail = c
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.run()
	}
}

// finish ends a call whose handler returns.
func (s *sweeper) finish(c *call) {
	s.mu.Lock()
	s.unlink(c)
	s.mu.Unlock()
	c.end(context.Canceled)
}

// sweeper watches the calls in flight of one Proxy. Its goroutine runs
// while there are any and stops at the first tick that finds none.
type sweeper struct {
	timeout, tick time.Duration

	mu         sync.Mutex
	head, tail *call
	running    bool
}

func (s *sweeper) unlink(c *call) {
	if !c.listed {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		s.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		s.tail = c.prev
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
		s.mu.Lock()
		if s.head == nil {
			s.running = false
			s.mu.Unlock()
			return
		}
		for c := s.head; c != nil; {
			next := c.next
			if !now.Before(c.deadline) {
				ends = append(ends, ending{c, context.DeadlineExceeded})
				s.unlink(c)
			} else if err := c.parent.Err(); err != nil {
				ends = append(ends, ending{c, err})
				s.unlink(c)
			}
			c = next
		}
		s.mu.Unlock()
		// Outside the lock: ending a call cancels the transport's context,
		// which closes connections.
		for i, e := range ends {
			e.c.end(e.err)
			ends[i] = ending{}
		}
		ends = ends[:0]
	}
}
