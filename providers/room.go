package providers

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"
)

// Room is the behaviour of one provider that plain RFC 6749 and the catalog
// fields do not describe. Each lives in its own package under providers/
// (providers/google, providers/microsoft, …) and is listed once in
// providers/registry; a provider names its room with `quirks:` in the
// catalog or broker.yaml.
//
// A room has a name and nothing else it must do. What it can do it says by
// implementing the optional interfaces below (TokenErrorClassifier,
// CallbackOutcomer, AccountReader, Refresher); callers find them by type
// assertion, so a new ability (a calendar adapter) is a new interface
// beside these, and no room has to change for it.
type Room interface {
	// Name is the value of `quirks:` that selects the room.
	Name() string
}

// TokenErrorClassifier is a room whose provider says "this grant is dead"
// in its own words. ClassifyTokenError is asked after invalid_grant, which
// is ClassReauth for every provider, and before the generic rules (5xx, 429,
// temporarily_unavailable are ClassTransient); ok false leaves the decision
// to them. It reads the structured fields of the error, never its text.
type TokenErrorClassifier interface {
	ClassifyTokenError(re *oauth2.RetrieveError) (class ErrorClass, ok bool)
}

// CallbackOutcomer is a room whose provider reports authorization errors
// beyond RFC 6749's codes. CallbackOutcome is asked after the standard codes
// (access_denied, invalid_scope, …) are mapped; ok false means internal.
// Provider text only steers the choice; it is never shown.
type CallbackOutcomer interface {
	CallbackOutcome(errCode, errDescription string) (outcome string, ok bool)
}

// AccountReader is a room whose user-info response is not OpenID Connect
// userinfo. ReadAccount maps the decoded JSON object (numbers as
// json.Number, so long ids keep every digit) to the account; an empty ID is
// refused by the caller.
type AccountReader interface {
	ReadAccount(m map[string]any) Account
}

// Refresher is a room whose refresh endpoint does not speak RFC 6749 §6.
// Refresh is called with a non-empty refresh token and returns the raw
// token response (the caller normalizes it and wraps errors); an error from
// the provider's endpoint should be an *oauth2.RetrieveError so that
// classification works.
type Refresher interface {
	Refresh(ctx context.Context, hc *http.Client, p *Provider, c Client, refreshToken string) (*oauth2.Token, error)
}

// Rooms is the explicit list of rooms by name. The one list the broker uses
// is providers/registry.Rooms; tests build their own.
type Rooms map[string]Room

// NewRooms indexes rooms by name. A name listed twice is a programming
// mistake and panics at start-up, before anything is served.
func NewRooms(rs ...Room) Rooms {
	m := make(Rooms, len(rs))
	for _, r := range rs {
		if _, dup := m[r.Name()]; dup {
			panic("providers: room " + r.Name() + " listed twice")
		}
		m[r.Name()] = r
	}
	return m
}
