package registry

import (
	"github.com/oauthbroker/broker/providers"
	"github.com/oauthbroker/broker/providers/calcom"
	"github.com/oauthbroker/broker/providers/caldav"
	"github.com/oauthbroker/broker/providers/google"
	"github.com/oauthbroker/broker/providers/microsoft"
	"github.com/oauthbroker/broker/providers/zoom"
)

// rooms is every room the broker knows, built once.
var rooms = providers.NewRooms(
	calcom.Room{},
	caldav.Room{},
	google.Room{},
	microsoft.Room{},
	zoom.Room{},
)

// Rooms returns the rooms by name, for providers.ResolveOptions.Rooms. The
// map is shared: callers must not change it.
func Rooms() providers.Rooms { return rooms }

// Resolve resolves the providers of broker.yaml against the catalog with
// every room: the one path config validation and broker.New share.
func Resolve(overrides map[string]providers.Spec, opts providers.ResolveOptions) (*providers.Registry, []providers.FieldError) {
	opts.Rooms = rooms
	return providers.Resolve(overrides, opts)
}
