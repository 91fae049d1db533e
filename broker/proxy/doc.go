// Package proxy is the credential-injecting reverse proxy behind
// ANY /proxy/{connectionId}/{path…} (docs/architecture.md "Flows", docs/security.md §8–§12).
//
// It owns one httputil.ReverseProxy, built once with Rewrite, a tuned
// transport and pooled copy buffers. Per request it asks the token manager
// for the app's connection, builds the upstream path segment by segment
// under the provider's API base URL (refusing dot segments, encoded
// slashes, control characters), drops every caller credential, forwarding
// and hop-by-hop header, injects the connection's credential as the
// provider says, drops Set-Cookie from the answer and streams both bodies.
// A 401 from an OAuth provider forces one refresh and one retry when the
// request can be replayed. Errors the proxy makes carry X-Broker-Error and
// the error envelope; answers of the provider pass through unchanged.
//
// Authentication of the app and the route itself live in broker/api.
package proxy
