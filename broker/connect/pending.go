package connect

import (
	"context"
	"fmt"
	"time"

	"github.com/oauthbroker/broker/broker/model"
)

// PendingLimitError refuses a new session while the app has as many
// unfinished ones as the cap allows. It is a model.ErrRateLimited (429);
// RetryAfter is when the oldest possible one has expired.
type PendingLimitError struct {
	Max        int
	RetryAfter time.Duration
}

func (e *PendingLimitError) Error() string {
	return fmt.Sprintf("connect: the app has %d unfinished connect sessions, the most allowed; they expire unused after %s", e.Max, e.RetryAfter)
}

// Unwrap makes it a rate_limited error for the error table.
func (e *PendingLimitError) Unwrap() error { return model.ErrRateLimited }

// RetryIn is when to try again (model.RetryAfter: the Retry-After header).
func (e *PendingLimitError) RetryIn() time.Duration { return e.RetryAfter }

// createSession stores a new auth session unless the app already has the
// most unfinished sessions the cap allows. The count and the insert are
// two statements: concurrent creations can pass the cap by at most their
// own number, which bounds what one app can hold all the same.
func (s *Service) createSession(ctx context.Context, sess model.AuthSession, ttl time.Duration) error {
	if s.pending > 0 {
		n, err := s.st.CountAuthSessions(ctx, sess.AppID, sess.CreatedAt)
		if err != nil {
			return fmt.Errorf("connect: counting the app's sessions: %w", err)
		}
		if n >= s.pending {
			pl := &PendingLimitError{Max: s.pending, RetryAfter: ttl}
			return &model.Error{Code: model.CodeRateLimited, Err: pl, Message: fmt.Sprintf(
				"this app has %d unfinished connect sessions, the most allowed; unused ones expire after %s", pl.Max, ttl)}
		}
	}
	return s.st.CreateAuthSession(ctx, sess)
}
