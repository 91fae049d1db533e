package config

import (
	"os"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes: it may refuse them, but it must
// never panic, and what it returns (accepted or not) must survive Validate.
func FuzzParse(f *testing.F) {
	if shipped, err := os.ReadFile("../broker.yaml"); err == nil {
		f.Add(shipped)
	}
	f.Add([]byte(production()))
	f.Add([]byte("server: {listen: \"${X:-127.0.0.1:0}\"}\nproxy: {maxRequestBody: 1GiB}\n"))
	f.Add([]byte("a: &a [x, *a]\n"))
	lookup := env(map[string]string{"X": "1", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, lookup)
		if c != nil {
			_ = Check(c, err) // the config of a refused file is still validated
		}
		if err != nil {
			return
		}
		_ = c.Validate()
	})
}
