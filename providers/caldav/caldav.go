package caldav

import "github.com/oauthbroker/broker/providers"

// Name is the room's name, the `quirks:` value of the caldav catalog entry.
const Name = "caldav"

// Room is CalDAV's behaviour. The zero value is ready to use.
type Room struct{}

var _ providers.Room = Room{}

// Name implements providers.Room.
func (Room) Name() string { return Name }
