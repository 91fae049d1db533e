package config

import (
	"errors"
	"sort"
	"strings"
)

// FieldError is one problem with broker.yaml, named by its YAML path, such
// as "server.listen" or "security.encryptionKeys[0].key".
type FieldError struct {
	Path    string
	Message string
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationErrors is every problem found at once, sorted by path, so one
// round of edits can fix them all. Parse returns it for unknown keys and
// values of the wrong type, Validate for values that do not make sense.
type ValidationErrors []FieldError

// Error lists the problems, one "path: message" a line.
func (v ValidationErrors) Error() string {
	lines := make([]string, len(v))
	for i, e := range v {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (v *ValidationErrors) add(path, msg string) {
	*v = append(*v, FieldError{Path: path, Message: msg})
}

// sorted orders the problems by path, then message, so the output is the
// same on every run.
func (v ValidationErrors) sorted() ValidationErrors {
	sort.SliceStable(v, func(i, j int) bool {
		if v[i].Path != v[j].Path {
			return v[i].Path < v[j].Path
		}
		return v[i].Message < v[j].Message
	})
	return v
}

// Check is the one pass that finds every problem: cfg and loadErr are what
// Load or Parse returned (after any command-line overrides were applied to
// cfg), and Check adds what Validate finds to the problems of loading. A
// validation problem at a path that loading already named is left out:
// that key is at its default only because its value was refused. A loadErr
// that is not ValidationErrors (an unreadable file, a YAML syntax error) is
// returned as it is, since then there is no config to validate.
func Check(cfg *Config, loadErr error) error {
	var all ValidationErrors
	if loadErr != nil {
		if !errors.As(loadErr, &all) || cfg == nil {
			return loadErr
		}
		all = append(ValidationErrors(nil), all...)
	}
	refused := make(map[string]bool, len(all))
	for _, e := range all {
		refused[e.Path] = true
	}
	var more ValidationErrors
	if err := cfg.Validate(); err != nil && !errors.As(err, &more) {
		return err
	}
	for _, e := range more {
		if !refused[e.Path] {
			all = append(all, e)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return all.sorted()
}
