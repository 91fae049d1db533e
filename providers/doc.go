// Package providers is the provider catalog: the embedded catalog.yaml
// (Google, Microsoft, Zoom, Cal.com, CalDAV, generic API key) merged with the
// overrides and whole providers of broker.yaml, and each provider's quirks:
// client authentication style, scope separator, a separate refresh URL, a
// missing expires_in, and how token and callback errors are classified. It
// speaks OAuth through golang.org/x/oauth2 and never stores anything.
package providers
