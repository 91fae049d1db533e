package model

import (
	"encoding/json"
	"time"
)

// ConnectionJSON is a connection as an app sees it, in API answers and in
// webhook bodies: never a token, never the account id (a hash for
// credentials connections, useless to an app).
type ConnectionJSON struct {
	ID              string      `json:"id"`
	ProviderID      string      `json:"providerId"`
	ScheduleID      string      `json:"scheduleId"`
	Status          string      `json:"status"`
	Account         AccountJSON `json:"account"`
	Scopes          []string    `json:"scopes"`
	CreatedAt       time.Time   `json:"createdAt"`
	LastRefreshedAt *time.Time  `json:"lastRefreshedAt"`
	LastError       string      `json:"lastError,omitempty"`
}

// AccountJSON is the provider account of a connection.
type AccountJSON struct {
	Email string `json:"email"`
	Name  string `json:"name"`
}

// ToConnectionJSON is c as an app sees it.
func ToConnectionJSON(c Connection) ConnectionJSON {
	scopes := c.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	j := ConnectionJSON{
		ID: c.ID, ProviderID: c.ProviderID, ScheduleID: c.ScheduleID, Status: string(c.Status),
		Account: AccountJSON{Email: c.AccountEmail, Name: c.AccountName},
		Scopes:  scopes, CreatedAt: c.CreatedAt.UTC(), LastError: c.LastError,
	}
	if !c.LastRefreshedAt.IsZero() {
		t := c.LastRefreshedAt.UTC()
		j.LastRefreshedAt = &t
	}
	return j
}

// WebhookBody is the JSON body of every webhook delivery (docs/webhooks.md).
type WebhookBody struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData carries the connection the event is about; webhook.test has
// none.
type WebhookData struct {
	Connection *ConnectionJSON `json:"connection,omitempty"`
}

// NewConnectionEvent is the outbox entry reporting that c (as stored after
// the change) went through typ at time at.
func NewConnectionEvent(typ string, c Connection, at time.Time) WebhookEvent {
	cj := ToConnectionJSON(c)
	return newEvent(c.AppID, c.ID, typ, WebhookData{Connection: &cj}, at)
}

// NewTestEvent is a webhook.test event for appID.
func NewTestEvent(appID string, at time.Time) WebhookEvent {
	return newEvent(appID, "", EventWebhookTest, WebhookData{}, at)
}

func newEvent(appID, connID, typ string, data WebhookData, at time.Time) WebhookEvent {
	at = at.UTC()
	// Marshalling these types cannot fail.
	body, _ := json.Marshal(WebhookBody{Type: typ, Timestamp: at.Truncate(time.Millisecond), Data: data})
	return WebhookEvent{
		ID: NewID(PrefixWebhook), AppID: appID, ConnectionID: connID, Type: typ, Payload: body,
		Status: DeliveryPending, NextAttemptAt: at, CreatedAt: at,
	}
}
