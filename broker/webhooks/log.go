package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
)

// Paging of the delivery log.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// Bounds on what an app queues by asking (POST /v1/webhooks/test and
// .../redeliver, docs/webhooks.md). The outbox is one queue that every
// replica's worker reads oldest first, shared by all apps: without them one
// app's requests could fill it (each test is a row kept for
// webhooks.retention) and hold back every other app's events.
const (
	// MaxPending: while an app has this many deliveries waiting, a test or
	// a redelivery is refused with rate_limited (checked in the store, so
	// it holds across replicas).
	MaxPending = 100
	// PendingRetryAfter is the Retry-After of that refusal: about the
	// first retry of the schedule, when waiting deliveries are likely done.
	PendingRetryAfter = 5 * time.Second
	// TestRate and TestBurst limit webhook.test events per app and
	// replica: 10 a minute, up to 10 at once.
	TestRate  = 10.0 / 60
	TestBurst = 10
	// RedeliverRate and RedeliverBurst limit redeliveries per app and
	// replica, enough to resend a backlog after an outage.
	RedeliverRate  = 10.0
	RedeliverBurst = MaxPending
)

// QueueFullError refuses a test or a redelivery while the app has
// MaxPending deliveries waiting. It is rate_limited (429) and says when to
// try again (Retry-After).
type QueueFullError struct{}

func (QueueFullError) Error() string {
	return fmt.Sprintf("webhooks: the app has %d deliveries waiting, the most it may queue by asking", MaxPending)
}

// Unwrap makes it a rate_limited error for the error table.
func (QueueFullError) Unwrap() error { return model.ErrRateLimited }

// RetryIn is when to try again (model.RetryAfter).
func (QueueFullError) RetryIn() time.Duration { return PendingRetryAfter }

// EventTypes are the types an app can receive (docs/webhooks.md).
var EventTypes = []string{
	model.EventConnectionCreated, model.EventConnectionReconnected, model.EventConnectionNeedsReauth,
	model.EventConnectionDisconnect, model.EventWebhookTest,
}

// Query selects part of an app's delivery log.
type Query struct {
	Status    string
	EventType string
	Limit     int    // 0 = DefaultListLimit
	Cursor    string // from the previous page's NextCursor
}

// Page is one page of the delivery log, newest first.
type Page struct {
	Deliveries []model.WebhookEvent
	NextCursor string // "" on the last page
}

// List returns an app's deliveries, newest first. Bad parameters are
// invalid_argument naming the parameter.
func (w *Worker) List(ctx context.Context, appID string, q Query) (Page, error) {
	f := store.WebhookFilter{AppID: appID, Limit: q.Limit}
	switch model.DeliveryStatus(q.Status) {
	case "", model.DeliveryPending, model.DeliveryDelivered, model.DeliveryFailed:
		f.Status = model.DeliveryStatus(q.Status)
	default:
		return Page{}, model.Invalid("status", "must be pending, delivered or failed")
	}
	if q.EventType != "" && !known(q.EventType) {
		return Page{}, model.Invalid("eventType", "must be one of %v", EventTypes)
	}
	f.Type = q.EventType
	switch {
	case f.Limit == 0:
		f.Limit = DefaultListLimit
	case f.Limit < 1 || f.Limit > MaxListLimit:
		return Page{}, model.Invalid("limit", "must be a whole number between 1 and %d", MaxListLimit)
	}
	if q.Cursor != "" {
		// The cursor is the id of the page's last delivery, which must be
		// the app's own: a position in the outbox's sequence, shared by
		// every app, would tell how many events other apps had.
		last, err := w.o.Store.GetWebhook(ctx, appID, q.Cursor)
		switch {
		case errors.Is(err, model.ErrNotFound):
			return Page{}, model.Invalid("cursor", "is not a cursor this list returned")
		case err != nil:
			return Page{}, fmt.Errorf("webhooks: reading the cursor's delivery: %w", err)
		}
		f.BeforeSeq = last.Seq
	}
	// One more than asked tells whether another page follows.
	want := f.Limit
	f.Limit++
	es, err := w.o.Store.ListWebhooks(ctx, f)
	if err != nil {
		return Page{}, fmt.Errorf("webhooks: listing deliveries: %w", err)
	}
	p := Page{Deliveries: es}
	if len(es) > want {
		p.Deliveries = es[:want]
		p.NextCursor = es[want-1].ID
	}
	return p, nil
}

func known(t string) bool {
	for _, k := range EventTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Redeliver queues a finished delivery of appID again (same webhook-id, so
// a receiver that got it deduplicates). A pending one is conflict.
func (w *Worker) Redeliver(ctx context.Context, appID, id string) (model.WebhookEvent, error) {
	_, err := w.o.Store.GetWebhook(ctx, appID, id)
	if errors.Is(err, model.ErrNotFound) {
		return model.WebhookEvent{}, &model.Error{Code: model.CodeNotFound, Message: "delivery not found", Err: err}
	}
	if err != nil {
		return model.WebhookEvent{}, fmt.Errorf("webhooks: redeliver: %w", err)
	}
	if err := w.canDeliver(ctx, appID); err != nil {
		return model.WebhookEvent{}, err
	}
	e, err := w.o.Store.RedeliverWebhook(ctx, appID, id, w.o.Now())
	switch {
	case errors.Is(err, model.ErrNotFound):
		return model.WebhookEvent{}, &model.Error{Code: model.CodeNotFound, Message: "delivery not found", Err: err}
	case errors.Is(err, model.ErrConflict):
		return model.WebhookEvent{}, &model.Error{Code: model.CodeConflict, Message: "the delivery is still pending; it is being delivered", Err: err}
	case err != nil:
		return model.WebhookEvent{}, fmt.Errorf("webhooks: redeliver: %w", err)
	}
	w.Wake()
	return e, nil
}

// SendTest queues a webhook.test event for appID.
func (w *Worker) SendTest(ctx context.Context, appID string) (model.WebhookEvent, error) {
	if err := w.canDeliver(ctx, appID); err != nil {
		return model.WebhookEvent{}, err
	}
	e := model.NewTestEvent(appID, w.o.Now())
	if err := w.o.Store.EnqueueWebhook(ctx, e); err != nil {
		return model.WebhookEvent{}, fmt.Errorf("webhooks: queueing a test event: %w", err)
	}
	w.Wake()
	return e, nil
}

// canDeliver refuses to queue what could not go out (no webhookUrl, or
// webhooks turned off by a 410) and, while the app already has MaxPending
// deliveries waiting, anything more. The count and the queueing are two
// statements: concurrent requests can pass the bound by their own number,
// which bounds what one app holds all the same.
func (w *Worker) canDeliver(ctx context.Context, appID string) error {
	app, err := w.o.Store.GetApp(ctx, appID)
	if err != nil {
		return fmt.Errorf("webhooks: reading the app: %w", err)
	}
	switch {
	case app.WebhookURL == "":
		return model.Errorf(model.CodeConflict, "the app has no webhookUrl; an admin sets it with PATCH /v1/apps/{appId}")
	case !app.WebhooksDisabledAt.IsZero():
		return model.Errorf(model.CodeConflict, "webhooks are off since the receiver answered 410 Gone; setting webhookUrl again turns them on")
	}
	waiting, err := w.o.Store.ListWebhooks(ctx, store.WebhookFilter{AppID: appID, Status: model.DeliveryPending, Limit: MaxPending})
	if err != nil {
		return fmt.Errorf("webhooks: counting the app's waiting deliveries: %w", err)
	}
	if len(waiting) >= MaxPending {
		return &model.Error{Code: model.CodeRateLimited, Err: QueueFullError{}, Message: fmt.Sprintf(
			"this app has %d deliveries waiting, the most it may queue by asking; try again when they are out", MaxPending)}
	}
	return nil
}
