// Package docs holds the broker's documentation. The only Go in it embeds
// openapi.yaml, so the binary serves the OpenAPI description at
// GET /openapi.yaml from the same file readers and tests use.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml, the OpenAPI 3.1 description of the HTTP API.
//
//go:embed openapi.yaml
var OpenAPI []byte
