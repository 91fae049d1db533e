package connect

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// MaxPageAttempts is how many credentials one hosted page submits to its
// provider. The page is usable again after a wrong password, so without a
// bound anyone holding a page link could guess passwords at the provider
// from the broker's address for the page's whole life; past it the page is
// spent and the app must start a new one (which its own limits bound).
const MaxPageAttempts = 5

// attemptKeys bounds the pages whose attempts are counted at once; the
// least recently tried is forgotten first.
const attemptKeys = 65536

// attempts counts credentials submissions per page session, in this
// process: with several replicas a page is spent on the first that counts
// past MaxPageAttempts, so it gets at most one bound per replica.
type attempts struct {
	mu sync.Mutex
	c  *lru.Cache[string, int]
}

func newAttempts() *attempts {
	c, err := lru.New[string, int](attemptKeys)
	if err != nil {
		panic("connect: attempts cache: " + err.Error())
	}
	return &attempts{c: c}
}

// take counts one submission of page id and says whether it may go to the
// provider. It counts before the check is made, so submissions sent in
// parallel cannot all pass.
func (a *attempts) take(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, _ := a.c.Get(id)
	n++
	a.c.Add(id, n)
	return n <= MaxPageAttempts
}
