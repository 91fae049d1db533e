package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Expand replaces ${NAME} and ${NAME:-default} in s with values from lookup
// (LookupEnv in Load). As in the shell, the default applies when NAME is
// unset or empty; ${NAME} of an unset NAME is empty. "$${" writes a literal
// "${"; any other "$" is kept as it is, so secrets with "$" need no escaping.
// The value of a variable is not expanded again.
// An error of lookup (an unreadable NAME_FILE) is returned as it is.
func Expand(s string, lookup Lookup) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", errors.New("unterminated ${ (write $${ for a literal ${)")
			}
			ref := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(ref, ":-")
			if !envNameRe.MatchString(name) {
				return "", errors.New("invalid variable reference ${" + short(ref) + "}: use ${NAME} or ${NAME:-default}")
			}
			v, ok, err := lookup(name)
			if err != nil {
				return "", err
			}
			if hasDef && (!ok || v == "") {
				v = def
			}
			b.WriteString(v)
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

// expandTree expands every scalar value (never a key) of the tree in place.
// It works on parsed nodes, not on the file's text, so a value from the
// environment is always one scalar: a secret holding ": " or "\n" cannot
// change the structure of the config.
func expandTree(n *yaml.Node, path string, lookup Lookup, errs *ValidationErrors) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			expandTree(c, path, lookup, errs)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandTree(n.Content[i+1], joinPath(path, n.Content[i].Value), lookup, errs)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandTree(c, path+"["+strconv.Itoa(i)+"]", lookup, errs)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		v, err := Expand(n.Value, lookup)
		if err != nil {
			errs.add(path, err.Error())
			// Unexpanded text must not become the value: the key keeps
			// its default while the rest of the file is checked.
			n.Value, n.Tag, n.Style = "", "!!null", 0
			return
		}
		if v == n.Value {
			return
		}
		n.Value = v
		// A value with a reference is typed by what it expands to, quoted
		// or not: `maxConns: "${MAX:-20}"` is a number, and a reference
		// that expands to nothing leaves the key at its default. Text that
		// YAML would read as null ("~", "null") stays the string it is.
		n.Style = 0
		n.Tag = ""
		if v != "" && n.ShortTag() == "!!null" {
			n.Tag = "!!str"
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
