package model

import (
	"errors"
	"fmt"
	"testing"
)

// The one error table: each code's status is part of the public contract
// (docs/api.md), and an unexpected error never shows its text.
func TestEnvelope(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		status  int
		code    Code
		message string
		field   string
	}{
		{"invalid with field", Invalid("app.name", "must be %d to %d characters", 2, 256), 400, CodeInvalidArgument, "must be 2 to 256 characters", "app.name"},
		{"wrapped not found", fmt.Errorf("store: get: %w", ErrNotFound), 404, CodeNotFound, "not found", ""},
		{"stale update is a conflict", fmt.Errorf("x: %w", ErrStale), 409, CodeConflict, "conflict", ""},
		{"needs reauth", ErrNeedsReauth, 409, CodeNeedsReauth, "the connection needs to be re-authorized by its user", ""},
		{"store down", fmt.Errorf("sqlstore: dial 10.0.0.5:5432 password=hunter2: %w", ErrUnavailable), 503, CodeUnavailable, "the broker's store is unavailable", ""},
		{"upstream down", ErrUpstreamUnavailable, 502, CodeUpstreamUnavailable, "the provider is unavailable", ""},
		{"upstream slow", ErrUpstreamTimeout, 504, CodeUpstreamTimeout, "the provider did not answer in time", ""},
		{"rate", ErrRateLimited, 429, CodeRateLimited, "rate limited", ""},
		{"too large", ErrPayloadTooLarge, 413, CodePayloadTooLarge, "payload too large", ""},
		{"auth", ErrUnauthenticated, 401, CodeUnauthenticated, "missing or invalid credentials", ""},
		{"perm", ErrPermissionDenied, 403, CodePermissionDenied, "permission denied", ""},
		{"anything else hides its text", errors.New("pq: relation secrets at /var/lib/x"), 500, CodeInternal, "internal error", ""},
		{"a coded error wins over a wrapped sentinel", &Error{Code: CodeConflict, Message: "disconnected", Err: ErrNotFound}, 409, CodeConflict, "disconnected", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := Envelope(c.err)
			if status != c.status || body.Error.Code != c.code || body.Error.Message != c.message || body.Error.Field != c.field {
				t.Fatalf("got %d %+v", status, body.Error)
			}
		})
	}
}
