package config

import (
	"os"
	"strings"
)

// FileSuffix marks a variable whose value is a file to read: when VAR is
// unset and VAR_FILE names a file, ${VAR} expands to that file's contents
// (one trailing newline dropped). This is how compose secrets and mounted
// Kubernetes secret files reach the config without entering the environment.
const FileSuffix = "_FILE"

// LookupEnv is the lookup Load uses: the process environment, with the
// _FILE convention.
func LookupEnv(name string) (string, bool) {
	return LookupWith(os.LookupEnv, os.ReadFile)(name)
}

// LookupWith builds a lookup over env with the _FILE convention, reading
// files with readFile. An unreadable _FILE is reported as unset, so the
// config's own "required" check names the key.
func LookupWith(env func(string) (string, bool), readFile func(string) ([]byte, error)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := env(name); ok {
			return v, true
		}
		path, ok := env(name + FileSuffix)
		if !ok || path == "" {
			return "", false
		}
		b, err := readFile(path)
		if err != nil {
			return "", false
		}
		s := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(s, "\r"), true
	}
}
