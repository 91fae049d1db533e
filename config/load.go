package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads broker.yaml at path, expands ${VAR} and ${VAR:-default} from the
// environment (LookupEnv: VAR, or the contents of the file VAR_FILE names)
// and decodes it as Parse does. It does not call Validate: the caller does
// (see Check), after applying its command-line overrides.
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
// key, a duplicate key, a value of the wrong type or a variable that cannot
// be read is a FieldError with its path, and all of them come back at once
// as ValidationErrors.
//
// With ValidationErrors Parse still returns the config: the rest of the
// file decoded, each refused key at its default, so that Check can add what
// Validate finds in one pass. Such a config must never be served. A YAML
// syntax error is returned as it is, with its line, and no config.
func Parse(data []byte, lookup Lookup) (*Config, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("config: file larger than %d bytes", MaxConfigSize)
	}
	if lookup == nil {
		lookup = func(string) (string, bool, error) { return "", false, nil }
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
	if w.budget < 0 {
		return nil, errs.sorted() // nothing sensible is left to decode
	}
	cfg := Default()
	// Set by the file, or derived from listen by finish.
	cfg.Server.PublicURL, cfg.Server.publicURLFromListen = "", false
	if err := root.Decode(cfg); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	finish(cfg)
	if len(errs) > 0 {
		return cfg, errs.sorted()
	}
	return cfg, nil
}

// finish fills what depends on other keys.
func finish(c *Config) *Config {
	c.Server.PublicURL = strings.TrimRight(c.Server.PublicURL, "/")
	if c.Server.PublicURL == "" {
		c.Server.PublicURL, c.Server.publicURLFromListen = PublicURLFor(c.Server.Listen), true
	}
	if c.Store.Driver == DriverSQLite && c.Store.DSN == "" {
		c.Store.DSN = c.SQLitePath()
	}
	return c
}

// PublicURLFor is the publicUrl that follows a listen address when
// server.publicUrl is not set: http on the listen port, with localhost for
// an address that means this machine (every interface, or loopback), since
// that is what a browser on it opens. "" when listen is not host:port.
func PublicURLFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// SetListen sets server.listen (serve --listen). A publicUrl that the file
// did not set follows it; one that it set stays.
func (c *Config) SetListen(addr string) {
	follows := c.Server.publicURLFromListen && c.Server.PublicURL == PublicURLFor(c.Server.Listen)
	c.Server.Listen = addr
	if follows {
		c.Server.PublicURL = PublicURLFor(addr)
	}
}

// PublicURLFollowsListen reports whether server.publicUrl was left unset and
// so is derived from server.listen.
func (c *Config) PublicURLFollowsListen() bool {
	return c.Server.publicURLFromListen && c.Server.PublicURL == PublicURLFor(c.Server.Listen)
}

// maxNodes bounds the walk, so aliases that multiply a small file into a
// huge tree ("billion laughs") are refused instead of walked.
const maxNodes = 100_000

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

// walker checks a YAML tree against the Go type it will be decoded into. It
// does what yaml.v3's KnownFields does, but names each problem by its YAML
// path instead of a line, and finds them all instead of the first. It
// removes what it refuses (an unknown key, a value of the wrong type), so
// the rest of the tree decodes and can be validated in the same pass.
type walker struct{ budget int }

// check reports whether n fits t; when it does not, the caller drops n.
// A mapping fits once its refused entries are removed from it.
func (w *walker) check(n *yaml.Node, t reflect.Type, path string, errs *ValidationErrors) bool {
	if w.budget--; w.budget < 0 {
		if w.budget == -1 {
			errs.add(path, "the document is too large or uses too many aliases")
		}
		return false
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return false
		}
		n = n.Alias
	}
	if isNull(n) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			errs.add(path, err.Error())
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return w.checkMapping(n, path, errs, func(key string) (reflect.Type, bool) {
			f, ok := yamlField(t, key)
			return f, ok
		})
	case reflect.Map:
		return w.checkMapping(n, path, errs, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			errs.add(path, "must be a list, not a "+kindName(n.Kind))
			return false
		}
		ok := true
		for i, c := range n.Content {
			ok = w.check(c, t.Elem(), path+"["+strconv.Itoa(i)+"]", errs) && ok
		}
		return ok // a list with a refused item keeps its default whole
	default:
		if n.Kind != yaml.ScalarNode {
			errs.add(path, "must be a single value, not a "+kindName(n.Kind))
			return false
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			errs.add(path, scalarMessage(t, n.Value))
			return false
		}
		return true
	}
}

// checkMapping checks the keys of a mapping: each is a plain string, unique,
// and known (field returns the type of its value). Refused entries are
// removed from n.
func (w *walker) checkMapping(n *yaml.Node, path string, errs *ValidationErrors, field func(string) (reflect.Type, bool)) bool {
	if n.Kind != yaml.MappingNode {
		errs.add(path, "must be a mapping of keys to values, not a "+kindName(n.Kind))
		return false
	}
	seen := make(map[string]int, len(n.Content)/2)
	kept := n.Content[:0:0]
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
		if w.check(v, ft, p, errs) {
			kept = append(kept, k, v)
		}
	}
	n.Content = kept
	return true
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
