package microsoft

import (
	"encoding/json"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthbroker/broker/providers"
)

// Name is the room's name, the `quirks:` value of the microsoft catalog entry.
const Name = "microsoft"

// Room is Microsoft's behaviour. The zero value is ready to use.
type Room struct{}

var (
	_ providers.Room                 = Room{}
	_ providers.TokenErrorClassifier = Room{}
	_ providers.CallbackOutcomer     = Room{}
	_ providers.AccountReader        = Room{}
)

// Name implements providers.Room.
func (Room) Name() string { return Name }

// Identity platform codes (AADSTS<n>) meaning the grant is dead: invalid
// grant, expired by inactivity, refresh token expired, revoked (password
// change or admin), code already redeemed.
var reauthCodes = map[int]bool{70000: true, 70008: true, 700082: true, 50173: true, 54005: true, 700084: true}

// Codes on the authorization response meaning the provider will not serve
// this account for this app: account from another tenant, app not
// multi-tenant, app not in the user's directory, personal accounts not
// allowed, user not in the directory.
var unsupportedCodes = map[int]bool{50020: true, 50194: true, 700016: true, 90072: true, 50034: true, 500200: true}

// declinedConsent is AADSTS65004, the user declining consent.
const declinedConsent = 65004

// ClassifyTokenError: Microsoft often answers a dead grant with
// invalid_request and says why only in its AADSTS code.
func (Room) ClassifyTokenError(re *oauth2.RetrieveError) (providers.ErrorClass, bool) {
	if reauthCodes[aadCode(re.Body, re.ErrorDescription)] {
		return providers.ClassReauth, true
	}
	return 0, false
}

// CallbackOutcome maps the AADSTS code of an authorization error.
func (Room) CallbackOutcome(_, errDescription string) (string, bool) {
	n := aadCode(nil, errDescription)
	switch {
	case unsupportedCodes[n]:
		return providers.OutcomeUnsupported, true
	case n == declinedConsent:
		return providers.OutcomeReject, true
	}
	return "", false
}

// ReadAccount reads Graph /me (id, mail or userPrincipalName, displayName)
// or, when userInfoUrl is the OIDC endpoint, its userinfo.
func (Room) ReadAccount(m map[string]any) providers.Account {
	return providers.Account{
		ID:    providers.Field(m, "id", "sub"),
		Email: providers.Field(m, "mail", "userPrincipalName", "email", "preferred_username"),
		Name:  providers.Field(m, "displayName", "name"),
	}
}

// aadCode is the AADSTS code of a Microsoft error: the first of the body's
// error_codes, else the number after "AADSTS" at the start of the
// description. 0 when there is none.
func aadCode(body []byte, description string) int {
	var b struct {
		ErrorCodes []int `json:"error_codes"`
	}
	if len(body) > 0 && json.Unmarshal(body, &b) == nil && len(b.ErrorCodes) > 0 {
		return b.ErrorCodes[0]
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(description), "AADSTS")
	if !ok {
		return 0
	}
	end := 0
	for end < len(rest) && end < 9 && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}
