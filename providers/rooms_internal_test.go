package providers

import "testing"

// stubRoom stands in for a room in this package's tests, which cannot import
// the rooms (they import providers). providers/registry tests the real ones
// against the catalog.
type stubRoom string

func (r stubRoom) Name() string { return string(r) }

// withRooms gives o a stub room for every quirks name the catalog uses.
func withRooms(o ResolveOptions) ResolveOptions {
	cat, err := Catalog()
	if err != nil {
		panic(err)
	}
	var rs []Room
	for _, s := range cat {
		if s.Quirks != "" {
			rs = append(rs, stubRoom(s.Quirks))
		}
	}
	o.Rooms = NewRooms(rs...)
	return o
}

func TestUnknownQuirksIsRefused(t *testing.T) {
	_, errs := Resolve(map[string]Spec{"b": {Kind: KindAPIKey, APIBaseURL: "https://b.example", Quirks: "yahoo"}}, withRooms(ResolveOptions{}))
	if len(errs) != 1 || errs[0].Path != "providers.b.quirks" {
		t.Fatalf("errors %v", errs)
	}
}

func TestResolvedProviderCarriesItsRoom(t *testing.T) {
	r, errs := Resolve(nil, withRooms(ResolveOptions{}))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range r.All() {
		if got := p.Room; (p.Quirks == "") != (got == nil) || (got != nil && got.Name() != p.Quirks) {
			t.Errorf("%s: quirks %q, room %v", p.ID, p.Quirks, got)
		}
	}
}

func TestRoomListedTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a room listed twice was accepted")
		}
	}()
	NewRooms(stubRoom("a"), stubRoom("a"))
}

// allowHeaders may widen the proxy's allow list, never to a header that
// carries credentials, a client address, a rewrite or connection control.
func TestAllowHeadersRefusesWhatNeverReachesAProvider(t *testing.T) {
	bad := []string{"Authorization", "x-api-key", "Cookie", "X-Forwarded-For", "X_Forwarded_Host", "Forwarded",
		"X-Original-URL", "X-Real-IP", "Connection", "Upgrade", "Proxy-Authorization"}
	for _, h := range bad {
		_, errs := Resolve(map[string]Spec{"b": {Kind: KindAPIKey, APIBaseURL: "https://b.example", AllowHeaders: []string{"Prefer", h}}}, withRooms(ResolveOptions{}))
		if len(errs) != 1 || errs[0].Path != "providers.b.allowHeaders[1]" {
			t.Errorf("allowHeaders %q: %v", h, errs)
		}
	}
	if _, errs := Resolve(map[string]Spec{"b": {Kind: KindAPIKey, APIBaseURL: "https://b.example", AllowHeaders: []string{"Prefer", "ConsistencyLevel"}}}, withRooms(ResolveOptions{})); len(errs) > 0 {
		t.Errorf("harmless headers refused: %v", errs)
	}
}
