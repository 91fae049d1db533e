package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

// Run runs the whole suite. newStore must return a fresh, empty store for
// each call and close it at t's cleanup; the suite migrates it itself.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s := newStore(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}
	groups := []struct {
		name  string
		tests []test
	}{
		{"Schema", schemaTests},
		{"Apps", appTests},
		{"AppProviders", appProviderTests},
		{"Connections", connectionTests},
		{"AuthSessions", sessionTests},
		{"Leases", leaseTests},
		{"Outbox", outboxTests},
		{"Stats", statsTests},
		{"Rotation", rotationTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

type test struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// base is the suite's clock: fixed, with nanoseconds, in UTC, so stored times
// must round-trip exactly.
var base = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)

var schemaTests = []test{
	{"MigratedAndReachable", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		applied, known, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if applied != known || known < 1 {
			t.Errorf("SchemaVersion = (%d, %d), want applied == known >= 1", applied, known)
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
	}},
}

func wantErr(t *testing.T, err, sentinel error, what string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: err = %v, want %v", what, err, sentinel)
	}
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func equal(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func newApp(id, name string, created time.Time) model.App {
	return model.App{
		ID:                  id,
		Name:                name,
		Description:         "books rooms",
		LogoURL:             "https://example.com/logo.png",
		HomepageURL:         "https://example.com",
		AllowedDomains:      []string{"example.com", "example.org"},
		AllowedRedirectURIs: []string{"https://example.com/cb"},
		LoginURL:            "https://example.com/login",
		LogoutURL:           "https://example.com/logout",
		WebhookURL:          "https://example.com/hook",
		Permissions:         []model.Permission{model.PermProxy, model.PermConnectionsRead},
		RateLimit:           2.5,
		SecretHash:          []byte{1, 2, 3, 0, 255},
		WebhookSecret:       []byte("ciphertext"),
		CreatedAt:           created,
		UpdatedAt:           created,
		Version:             1,
	}
}

func createApp(t *testing.T, s store.Store, id string) model.App {
	t.Helper()
	a := newApp(id, "app "+id, base)
	must(t, s.CreateApp(t.Context(), a), "CreateApp")
	return a
}

func newConn(id, appID, scheduleID, accountID string) model.Connection {
	return model.Connection{
		ID:              id,
		AppID:           appID,
		ProviderID:      "google",
		ScheduleID:      scheduleID,
		AccountID:       accountID,
		AccountEmail:    accountID + "@example.com",
		AccountName:     "Ann " + accountID,
		Status:          model.StatusConnected,
		Scopes:          []string{"calendar.read", "calendar.write"},
		ClientSource:    model.ClientBroker,
		TokenExpiry:     base.Add(time.Hour),
		LastRefreshedAt: base,
		LastUsedAt:      base.Add(time.Minute),
		CreatedAt:       base,
		UpdatedAt:       base,
	}
}

// seal stands in for the encryption layer: the ciphertext names the id it
// was bound to, so tests can see which id seal received.
func seal(id string) ([]byte, error) { return []byte("sealed:" + id), nil }

func upsert(t *testing.T, s store.Store, c model.Connection) model.Connection {
	t.Helper()
	got, _, err := s.UpsertConnectionWithEvent(t.Context(), c, seal, nil)
	must(t, err, "UpsertConnection")
	return got
}

func sealedFor(t *testing.T, c model.Connection, id string) {
	t.Helper()
	if !bytes.Equal(c.Credentials, []byte("sealed:"+id)) {
		t.Fatalf("credentials = %q, want sealed for %s", c.Credentials, id)
	}
}

func errorIs(err, target error) bool { return errors.Is(err, target) }
