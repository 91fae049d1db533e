package google

import "github.com/oauthbroker/broker/providers"

// Name is the room's name, the `quirks:` value of the google catalog entry.
const Name = "google"

// Room is Google's behaviour. The zero value is ready to use.
type Room struct{}

var _ providers.Room = Room{}

// Name implements providers.Room.
func (Room) Name() string { return Name }
