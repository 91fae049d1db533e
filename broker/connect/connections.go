package connect

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/providers"
)

// Paging of GET /v1/connections.
const (
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// ListFilter selects an app's connections; empty fields do not filter.
type ListFilter struct {
	ScheduleID string
	ProviderID string
	Status     model.ConnectionStatus
}

// Page is one page of connections; NextCursor is empty on the last page.
type Page struct {
	Connections []model.Connection
	NextCursor  string
}

const cursorPrefix = "c1:"

// List pages through an app's own connections, ordered by id. The cursor is
// opaque to callers (base64url of a version tag and the last id).
func (s *Service) List(ctx context.Context, appID string, f ListFilter, limit int, cursor string) (Page, error) {
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return Page{}, model.Invalid("limit", "must be between 1 and %d", MaxListLimit)
	}
	sf := store.ConnectionFilter{AppID: appID, ProviderID: f.ProviderID, Status: f.Status, Limit: limit + 1}
	if f.ScheduleID != "" {
		if err := CheckScheduleID(f.ScheduleID); err != nil {
			return Page{}, err
		}
		sf.ScheduleIDs = []string{f.ScheduleID}
	}
	switch f.Status {
	case "", model.StatusConnected, model.StatusNeedsReauth, model.StatusDisconnected:
	default:
		return Page{}, model.Invalid("status", "must be CONNECTED, NEEDS_REAUTH or DISCONNECTED")
	}
	if cursor != "" {
		after, err := decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		sf.After = after
	}
	cs, err := s.st.ListConnections(ctx, sf)
	if err != nil {
		return Page{}, fmt.Errorf("connect: listing connections: %w", err)
	}
	var next string
	if len(cs) > limit {
		cs = cs[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + cs[limit-1].ID))
	}
	if cs == nil {
		cs = []model.Connection{}
	}
	return Page{Connections: cs, NextCursor: next}, nil
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(c) > 256 || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", model.Invalid("cursor", "is not a cursor returned by this API")
	}
	return string(b[len(cursorPrefix):]), nil
}

// Get returns one of the app's connections; another app's is not_found.
func (s *Service) Get(ctx context.Context, appID, id string) (model.Connection, error) {
	c, err := s.st.GetConnection(ctx, appID, id)
	if err != nil {
		return model.Connection{}, fmt.Errorf("connect: connection: %w", err)
	}
	return c, nil
}

// TestResult says whether a connection's credentials work at the provider.
// Code, when not OK: disconnected, needs_reauth, rejected (the provider
// answered 401/403), or upstream_unavailable (the provider could not tell).
type TestResult struct {
	OK   bool
	Code string
}

// Test results' codes.
const (
	TestDisconnected = "disconnected"
	TestNeedsReauth  = string(model.CodeNeedsReauth)
	TestRejected     = "rejected"
	TestUnavailable  = string(model.CodeUpstreamUnavailable)
)

// Test calls the provider's test URL with the connection's credentials (a
// valid access token first: refreshed when due). An OAuth token the provider
// refuses is refreshed once and tried again, as a proxied call would be.
// Without a test URL, holding a valid credential is the answer.
func (s *Service) Test(ctx context.Context, appID, id string) (TestResult, error) {
	c, err := s.Get(ctx, appID, id)
	if err != nil {
		return TestResult{}, err
	}
	switch c.Status {
	case model.StatusDisconnected:
		return TestResult{Code: TestDisconnected}, nil
	case model.StatusNeedsReauth:
		return TestResult{Code: TestNeedsReauth}, nil
	}
	cred, err := s.tok.Get(ctx, appID, id)
	if r, done := credentialResult(err); done {
		return r, nil
	} else if err != nil {
		return TestResult{}, err
	}
	p := cred.Provider
	if p.TestURL == "" {
		return TestResult{OK: true}, nil
	}
	err = p.Test(ctx, s.hc, cred.Token)
	if errors.Is(err, providers.ErrRejected) && p.Kind == providers.KindOAuth2 {
		cred, err = s.tok.ForceRefresh(ctx, appID, id, cred.Token.AccessToken)
		if r, done := credentialResult(err); done {
			return r, nil
		} else if err != nil {
			return TestResult{}, err
		}
		err = p.Test(ctx, s.hc, cred.Token)
	}
	switch {
	case err == nil:
		return TestResult{OK: true}, nil
	case errors.Is(err, providers.ErrRejected):
		return TestResult{Code: TestRejected}, nil
	default:
		s.log.InfoContext(ctx, "connection test: provider could not tell", "connection", id, "provider", p.ID, "err", err)
		return TestResult{Code: TestUnavailable}, nil
	}
}

// credentialResult maps token-manager errors that are answers, not failures.
func credentialResult(err error) (TestResult, bool) {
	switch {
	case err == nil:
		return TestResult{}, false
	case errors.Is(err, model.ErrNeedsReauth):
		return TestResult{Code: TestNeedsReauth}, true
	case errors.Is(err, model.ErrUpstreamUnavailable), errors.Is(err, model.ErrUpstreamTimeout):
		return TestResult{Code: TestUnavailable}, true
	}
	return TestResult{}, false
}

// Disconnect revokes the connection at the provider where it can, wipes its
// credentials and marks it DISCONNECTED (tokens.Manager.Disconnect).
func (s *Service) Disconnect(ctx context.Context, appID, id string) (model.Connection, error) {
	c, err := s.tok.Disconnect(ctx, appID, id)
	if err != nil {
		return model.Connection{}, fmt.Errorf("connect: disconnecting: %w", err)
	}
	return c, nil
}
