package zoom

import (
	"encoding/json"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/providers"
)

// Name is the room's name, the `quirks:` value of the zoom catalog entry.
const Name = "zoom"

// Room is Zoom's behaviour. The zero value is ready to use.
type Room struct{}

var (
	_ providers.Room                 = Room{}
	_ providers.TokenErrorClassifier = Room{}
	_ providers.AccountReader        = Room{}
)

// Name implements providers.Room.
func (Room) Name() string { return Name }

// ClassifyTokenError: Zoom answers a dead or used refresh token with
// {"reason":"Invalid Token!","error":"invalid_request"}.
func (Room) ClassifyTokenError(re *oauth2.RetrieveError) (providers.ErrorClass, bool) {
	var b struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(re.Body, &b) == nil && b.Reason == "Invalid Token!" {
		return providers.ClassReauth, true
	}
	return 0, false
}

// ReadAccount reads /v2/users/me: id, email, display_name or first and last
// name.
func (Room) ReadAccount(m map[string]any) providers.Account {
	a := providers.Account{ID: providers.Field(m, "id"), Email: providers.Field(m, "email"), Name: providers.Field(m, "display_name")}
	if a.Name == "" {
		a.Name = strings.TrimSpace(providers.Field(m, "first_name") + " " + providers.Field(m, "last_name"))
	}
	return a
}
