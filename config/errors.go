package config

import (
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
