package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads broker.yaml at path, expands ${VAR} and ${VAR:-default} from the
// environment (LookupEnv: VAR, or the contents of the file VAR_FILE names)
// and decodes it as Parse does. It does not call Validate: the
// caller does, so check-config can list every problem.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return Parse(data, LookupEnv)
}

// Parse decodes a config file's bytes onto the defaults. Variables are
// expanded with lookup (nil: none is set). Decoding is strict: an unknown
// key, a duplicate key or a value of the wrong type is a FieldError with its
// path, and all of them come back at once as ValidationErrors. A YAML syntax
// error is returned as it is, with its line.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("config: file larger than %d bytes", MaxConfigSize)
	}
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // empty file: every default
			return finish(Default()), nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		return nil, errors.New("config: more than one YAML document; broker.yaml holds one")
	}

	var errs ValidationErrors
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if isNull(root) {
		return finish(Default()), nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("config: the top level must be a mapping of sections (server:, store:, ...)")
	}
	expandTree(root, "", lookup, &errs)
	w := walker{budget: maxNodes}
	w.check(root, reflect.TypeFor[Config](), "", &errs)
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	cfg := Default()
	if err := root.Decode(cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return finish(cfg), nil
}

// finish fills what depends on other keys.
func finish(c *Config) *Config {
	c.Server.PublicURL = strings.TrimRight(c.Server.PublicURL, "/")
	if c.Store.Driver == DriverSQLite && c.Store.DSN == "" {
		c.Store.DSN = c.SQLitePath()
	}
	return c
}

// maxNodes bounds the walk, so aliases that multiply a small file into a
// huge tree ("billion laughs") are refused instead of walked.
const maxNodes = 100_000

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// walker checks a YAML tree against the Go type it will be decoded into. It
// does what yaml.v3's KnownFields does, but names each problem by its YAML
// path instead of a line, and finds them all instead of the first.
type walker struct{ budget int }

func (w *walker) check(n *yaml.Node, t reflect.Type, path string, errs *ValidationErrors) {
	if w.budget--; w.budget < 0 {
		if w.budget == -1 {
			errs.add(path, "the document is too large or uses too many aliases")
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			errs.add(path, err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		w.checkMapping(n, path, errs, func(key string) (reflect.Type, bool) {
			f, ok := yamlField(t, key)
			return f, ok
		})
	case reflect.Map:
		w.checkMapping(n, path, errs, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			errs.add(path, "must be a list, not a "+kindName(n.Kind))
			return
		}
		for i, c := range n.Content {
			w.check(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs)
		}
	default:
		if n.Kind != yaml.ScalarNode {
			errs.add(path, "must be a single value, not a "+kindName(n.Kind))
			return
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			errs.add(path, scalarMessage(t, n.Value))
		}
	}
}

// checkMapping checks the keys of a mapping: each is a plain string, unique,
// and known (field returns the type of its value).
func (w *walker) checkMapping(n *yaml.Node, path string, errs *ValidationErrors, field func(string) (reflect.Type, bool)) {
	if n.Kind != yaml.MappingNode {
		errs.add(path, "must be a mapping of keys to values, not a "+kindName(n.Kind))
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			errs.add(path, "keys must be plain strings")
			continue
		}
		p := joinPath(path, k.Value)
		if k.Tag == "!!merge" || k.Value == "<<" {
			errs.add(p, "YAML merge keys are not supported")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			errs.add(p, fmt.Sprintf("duplicate key (first on line %d)", line))
			continue
		}
		seen[k.Value] = k.Line
		ft, ok := field(k.Value)
		if !ok {
			errs.add(p, "unknown key")
			continue
		}
		w.check(v, ft, p, errs)
	}
}

// yamlField finds the struct field whose yaml tag names key.
func yamlField(t reflect.Type, key string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if name == key {
			return f.Type, true
		}
	}
	return nil, false
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// scalarMessage explains a value that does not fit its field's type.
func scalarMessage(t reflect.Type, v string) string {
	var want string
	switch t.Kind() {
	case reflect.Bool:
		want = "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "must be a whole number"
	case reflect.Float32, reflect.Float64:
		want = "must be a number"
	default:
		want = "has the wrong type"
	}
	return fmt.Sprintf("%s, not %q", want, short(v))
}
