package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/secrets"
)

// sealer seals and opens connection credentials: a model.Token as JSON,
// encrypted with the connection id as additional data (model.CredentialsAAD).
type sealer struct{ keys *secrets.KeyRing }

// open decrypts a stored connection's credential.
func (s sealer) open(c model.Connection) (model.Token, error) {
	if len(c.Credentials) == 0 {
		return model.Token{}, fmt.Errorf("tokens: connection has no stored credential: %w", model.ErrNotFound)
	}
	pt, err := s.keys.Decrypt(c.Credentials, model.CredentialsAAD(c.ID))
	if err != nil {
		return model.Token{}, fmt.Errorf("tokens: decrypting credential: %w", err)
	}
	var tok model.Token
	if err := json.Unmarshal(pt, &tok); err != nil {
		return model.Token{}, errors.New("tokens: stored credential is not a token")
	}
	return tok, nil
}

// seal encrypts a token for connection id.
func (s sealer) seal(id string, tok model.Token) ([]byte, error) {
	pt, err := json.Marshal(tok)
	if err != nil {
		return nil, fmt.Errorf("tokens: encoding token: %w", err)
	}
	ct, err := s.keys.Encrypt(pt, model.CredentialsAAD(id))
	if err != nil {
		return nil, fmt.Errorf("tokens: encrypting token: %w", err)
	}
	return ct, nil
}

// sameGrant reports whether cur still holds the grant read held, whose
// refresh token is refreshToken. Its bytes may differ only because
// `broker keys rotate` re-encrypted them.
func (s sealer) sameGrant(cur, read model.Connection, refreshToken string) bool {
	if bytes.Equal(cur.Credentials, read.Credentials) {
		return true
	}
	t, err := s.open(cur)
	return err == nil && t.RefreshToken == refreshToken
}
