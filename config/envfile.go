package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// FileSuffix marks a variable whose value is a file to read: when VAR is
// unset and VAR_FILE names a file, ${VAR} expands to that file's contents
// (one trailing newline dropped). This is how compose secrets and mounted
// Kubernetes secret files reach the config without entering the environment.
const FileSuffix = "_FILE"

// Lookup finds a variable for ${NAME}: its value and whether it is set. err
// is for a value that should exist and cannot be read, such as a NAME_FILE
// naming a missing file; the config reports it at the key that uses NAME.
type Lookup func(name string) (value string, ok bool, err error)

// LookupEnv is the lookup Load uses: the process environment, with the
// _FILE convention.
func LookupEnv(name string) (string, bool, error) {
	return LookupWith(os.LookupEnv, os.ReadFile)(name)
}

// LookupWith builds a lookup over env with the _FILE convention, reading
// files with readFile. A NAME_FILE that names a file that cannot be read is
// an error naming the variable and the file: the operator asked for that
// file, so quietly treating the secret as unset would hide a broken mount.
func LookupWith(env func(string) (string, bool), readFile func(string) ([]byte, error)) Lookup {
	return func(name string) (string, bool, error) {
		if v, ok := env(name); ok {
			return v, true, nil
		}
		path, ok := env(name + FileSuffix)
		if !ok || path == "" {
			return "", false, nil
		}
		b, err := readFile(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named once, below
			}
			return "", false, fmt.Errorf("%s%s names %q, which cannot be read: %v", name, FileSuffix, path, err)
		}
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), true, nil
	}
}

// MapLookup is a Lookup over a fixed map (no _FILE convention), for tests
// and for callers that build the environment themselves.
func MapLookup(m map[string]string) Lookup {
	return func(name string) (string, bool, error) {
		v, ok := m[name]
		return v, ok, nil
	}
}
