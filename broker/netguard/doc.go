// Package netguard is the broker's one answer to "may the broker call this
// address on someone's behalf?" (docs/security.md §21). Every URL an admin,
// an app or the configuration registers (webhook, logo, homepage, login and
// logout URLs, provider endpoints) is checked with CheckURL when it is
// registered, and outbound clients that follow a registered URL (webhook
// delivery) check the address they actually dial with Control, so a name
// that resolves to an internal address later is refused too.
//
// It imports only the standard library, so config, providers, apps and the
// webhook worker can all share it.
package netguard
