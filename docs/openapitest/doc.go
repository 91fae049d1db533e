// Package openapitest checks real HTTP answers against docs/openapi.yaml
// with a maintained OpenAPI 3.1 validator (pb33f/libopenapi-validator).
// End-to-end tests wrap the broker's handler with Wrap, so every answer
// they provoke is validated against the schemas. Only tests import it.
package openapitest
