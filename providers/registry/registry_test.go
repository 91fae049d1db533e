package registry_test

import (
	"testing"

	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/registry"
)

// Every room the catalog names exists, and the catalog resolves with the
// real rooms attached.
func TestCatalogResolvesWithEveryRoom(t *testing.T) {
	r, errs := registry.Resolve(nil, providers.ResolveOptions{})
	if len(errs) > 0 {
		t.Fatalf("catalog: %v", errs)
	}
	for _, id := range []string{"google", "microsoft", "zoom", "calcom", "caldav"} {
		p, ok := r.Get(id)
		if !ok || p.Room == nil || p.Room.Name() != id {
			t.Errorf("%s: room %v", id, p)
		}
	}
	if p, _ := r.Get("apikey"); p.Room != nil {
		t.Errorf("apikey is plain but has room %s", p.Room.Name())
	}
}

// A provider of broker.yaml may name a room; an unknown name is an error
// that lists the rooms there are.
func TestBrokerYAMLNamesARoom(t *testing.T) {
	over := map[string]providers.Spec{
		"nextcloud": {Kind: providers.KindBasic, APIBaseURL: "https://cloud.example.com/remote.php/dav", Quirks: "caldav"},
	}
	r, errs := registry.Resolve(over, providers.ResolveOptions{})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if p, _ := r.Get("nextcloud"); p.Room == nil || p.Room.Name() != "caldav" {
		t.Fatalf("room %v", p.Room)
	}
	over["nextcloud"] = providers.Spec{Kind: providers.KindBasic, APIBaseURL: "https://cloud.example.com/dav", Quirks: "nextcloud"}
	_, errs = registry.Resolve(over, providers.ResolveOptions{})
	want := "providers.nextcloud.quirks: must be empty or one of calcom, caldav, google, microsoft, zoom"
	if len(errs) != 1 || errs[0].Error() != want {
		t.Fatalf("errors %v, want %s", errs, want)
	}
}
