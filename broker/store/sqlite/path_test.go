package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oauthbroker/broker/broker/store/sqlite"
)

// The configured path is taken literally (relative, spaces, URI-special
// characters), and the database and its WAL are private to the broker.
func TestPathsAndFileModes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, p := range []string{"./data/broker.db", "data 2/b?x#y%20.db", filepath.Join(dir, "abs dir", "b.db")} {
		t.Run(p, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), p, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{p, p + "-wal"} {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode = %v, want 0600", f, fi.Mode().Perm())
				}
			}
			fi, err := os.Stat(filepath.Dir(p))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("directory mode = %v, want no access for others", fi.Mode().Perm())
			}
		})
	}
}
