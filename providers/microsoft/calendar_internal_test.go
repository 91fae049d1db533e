package microsoft

import "testing"

// A nextLink is followed only under the API base URL: same scheme and host,
// no user info, a clean path below the base path.
func TestUnderBase(t *testing.T) {
	const base = "https://graph.microsoft.com/v1.0"
	cases := map[string]bool{
		"https://graph.microsoft.com/v1.0/me/calendarView?$skip=10":            true,
		"https://GRAPH.microsoft.com/v1.0/me/calendars?$skiptoken=x":           true,
		"https://graph.microsoft.com.evil.example/v1.0/me/calendarView":        false,
		"http://graph.microsoft.com/v1.0/me/calendarView":                      false,
		"https://graph.microsoft.com:8443/v1.0/me/calendarView":                false,
		"https://graph.microsoft.com/beta/me/calendarView":                     false,
		"https://graph.microsoft.com/v1.0/../beta/me":                          false,
		"https://graph.microsoft.com/v1.0x/me":                                 false,
		"https://user@graph.microsoft.com/v1.0/me/calendarView":                false,
		"/v1.0/me/calendarView?$skip=10":                                       false,
		"//evil.example/v1.0/me":                                               false,
		"https://evil.example/v1.0/me/calendarView?host=graph.microsoft.com":   false,
		"https://graph.microsoft.com/v1.0/me/calendarView/%2e%2e/%2e%2e/admin": false,
	}
	for link, want := range cases {
		if got := underBase(base, link); got != want {
			t.Errorf("underBase(%q) = %v, want %v", link, got, want)
		}
	}
}
