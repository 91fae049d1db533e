package providers

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed catalog.yaml
var catalogYAML []byte

// parsedCatalog decodes catalog.yaml once; Catalog hands out deep copies so
// no caller can change another's view.
var parsedCatalog = sync.OnceValues(func() (map[string]Spec, error) {
	return parseCatalog(catalogYAML)
})

// Catalog returns the built-in providers of the embedded catalog.yaml, by id,
// as written there (no overrides, no defaults). The map and every Spec in it
// belong to the caller.
func Catalog() (map[string]Spec, error) {
	cat, err := parsedCatalog()
	if err != nil {
		return nil, err
	}
	out := make(map[string]Spec, len(cat))
	for id, s := range cat {
		out[id] = cloneSpec(s)
	}
	return out, nil
}

// parseCatalog decodes a catalog strictly: an unknown key in the embedded
// file is a build mistake and must not pass silently.
func parseCatalog(data []byte) (map[string]Spec, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cat map[string]Spec
	if err := dec.Decode(&cat); err != nil {
		return nil, fmt.Errorf("providers: catalog.yaml: %w", err)
	}
	return cat, nil
}

// cloneSpec copies s so that its pointers, slices and maps share nothing with s.
func cloneSpec(s Spec) Spec {
	c := s
	c.Enabled = clonePtr(s.Enabled)
	c.PKCE = clonePtr(s.PKCE)
	c.RotatesRefreshTokens = clonePtr(s.RotatesRefreshTokens)
	c.KeepAlive = clonePtr(s.KeepAlive)
	c.Inject = clonePtr(s.Inject)
	c.Scopes = slices.Clone(s.Scopes)
	c.AuthParams = maps.Clone(s.AuthParams)
	c.Headers = maps.Clone(s.Headers)
	c.AllowHeaders = slices.Clone(s.AllowHeaders)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
