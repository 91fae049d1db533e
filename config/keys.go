package config

import (
	"reflect"
	"strings"
)

// Keys lists every key of broker.yaml by its path ("server.listen",
// "security.rateLimits.app"), in the order of the Config struct. A key is
// where a value is written: a section is not a key, a list of key entries
// (security.stateKeys) and the providers map are one key each (providers.md
// documents a provider's fields). Tests walk it, so a new field of Config
// is a new key that docs/configuration.md and the wiring test must know.
func Keys() []string {
	var out []string
	walkKeys(reflect.TypeFor[Config](), "", &out)
	return out
}

func walkKeys(t reflect.Type, path string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		p := joinPath(path, name)
		if f.Type.Kind() == reflect.Struct && !reflect.PointerTo(f.Type).Implements(unmarshalerType) {
			walkKeys(f.Type, p, out)
			continue
		}
		*out = append(*out, p)
	}
}
