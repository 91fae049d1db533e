package google

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/oauthbroker/broker/providers"
)

var _ providers.CalendarReader = Room{}

// maxResults is events.list's largest page: the fewest round trips.
const maxResults = 2500

type gCalendarList struct {
	Items []struct {
		ID         string `json:"id"`
		Summary    string `json:"summary"`
		SummaryOv  string `json:"summaryOverride"`
		Primary    bool   `json:"primary"`
		AccessRole string `json:"accessRole"`
		TimeZone   string `json:"timeZone"`
	} `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

type gTime struct {
	Date     string `json:"date"`
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

// gEvents holds only the fields the broker maps: attendees, organizer,
// description, location and conference data are never decoded.
type gEvents struct {
	Items []struct {
		ID               string `json:"id"`
		Status           string `json:"status"`
		Summary          string `json:"summary"`
		Start            gTime  `json:"start"`
		End              gTime  `json:"end"`
		Transparency     string `json:"transparency"`
		RecurringEventID string `json:"recurringEventId"`
		Updated          string `json:"updated"`
	} `json:"items"`
	TimeZone      string `json:"timeZone"`
	NextPageToken string `json:"nextPageToken"`
}

// ListCalendars implements providers.CalendarReader with calendarList.list.
func (Room) ListCalendars(ctx context.Context, call providers.CalendarCall) ([]providers.Calendar, error) {
	var out []providers.Calendar
	token := ""
	for {
		q := url.Values{"maxResults": {"250"}}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page gCalendarList
		if err := call.GetJSON(ctx, "/users/me/calendarList?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		for _, c := range page.Items {
			name := c.SummaryOv
			if name == "" {
				name = c.Summary
			}
			out = append(out, providers.Calendar{ID: c.ID, Name: name, Primary: c.Primary,
				ReadOnly: c.AccessRole != "owner" && c.AccessRole != "writer", TimeZone: c.TimeZone})
		}
		if page.NextPageToken == "" || page.NextPageToken == token {
			return out, nil
		}
		token = page.NextPageToken
	}
}

// ListEvents implements providers.CalendarReader with events.list:
// singleEvents expands recurring series, showDeleted reports cancelled
// occurrences, and every page is followed.
func (Room) ListEvents(ctx context.Context, call providers.CalendarCall, calendarID string, from, to time.Time, fn func(providers.Event) error) error {
	token := ""
	for {
		q := url.Values{
			"singleEvents": {"true"}, "orderBy": {"startTime"}, "showDeleted": {"true"},
			"timeMin": {from.UTC().Format(time.RFC3339)}, "timeMax": {to.UTC().Format(time.RFC3339)},
			"maxResults": {strconv.Itoa(maxResults)},
		}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page gEvents
		if err := call.GetJSON(ctx, "/calendars/"+url.PathEscape(calendarID)+"/events?"+q.Encode(), &page); err != nil {
			return err
		}
		for _, it := range page.Items {
			ev := providers.Event{ID: it.ID, CalendarID: calendarID, Title: it.Summary,
				RecurringEventID: it.RecurringEventID, Status: providers.StatusConfirmed, Transparency: providers.Busy}
			switch it.Status {
			case "tentative", "cancelled":
				ev.Status = it.Status
			}
			if it.Transparency == "transparent" {
				ev.Transparency = providers.Free
			}
			ev.Updated, _ = time.Parse(time.RFC3339, it.Updated)
			if it.Start.Date != "" {
				ev.AllDay, ev.StartDate, ev.EndDate = true, it.Start.Date, it.End.Date
				if ev.EndDate == "" {
					ev.EndDate = ev.StartDate
				}
			} else {
				var err1, err2 error
				ev.Start, err1 = time.Parse(time.RFC3339, it.Start.DateTime)
				ev.End, err2 = time.Parse(time.RFC3339, it.End.DateTime)
				if err1 != nil || err2 != nil {
					if ev.Status == providers.StatusCancelled {
						continue // a cancelled occurrence may come without times
					}
					return &providers.UpstreamError{Reason: "event without a valid start or end"}
				}
			}
			ev.TimeZone = it.Start.TimeZone
			if ev.TimeZone == "" {
				ev.TimeZone = page.TimeZone
			}
			if err := fn(ev); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" || page.NextPageToken == token {
			return nil
		}
		token = page.NextPageToken
	}
}
