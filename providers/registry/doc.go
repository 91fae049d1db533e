// Package registry is the one explicit list of provider rooms
// (providers/google, providers/microsoft, …). It sits above the rooms so
// that providers itself imports none of them; the broker and config
// validation resolve providers with Rooms(). Adding a provider with
// behaviour of its own is a new package under providers/ and one line
// here. Nothing registers itself: there are no init side effects.
package registry
