package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"github.com/oauthbroker/broker/broker/model"
	"github.com/oauthbroker/broker/broker/store"
	"github.com/oauthbroker/broker/broker/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options tunes the SQLite store; the zero value is fine.
type Options struct {
	// BusyTimeout is how long a statement waits for another process's write
	// lock before failing (default 5s).
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// Now is the clock for timestamps the store fills in (default time.Now).
	Now func() time.Time
}

// Store is the SQLite backend.
type Store struct {
	*sqlstore.Store
	w, r *sql.DB
}

var _ store.Store = (*Store)(nil)

// Memory is the path that opens a private in-memory database (tests, demos);
// it lives as long as the Store.
const Memory = ":memory:"

// Open opens (creating if needed) the database at path: the parent directory
// is created 0700 and the file 0600. It does not migrate; call Migrate.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	ms, err := sqlstore.LoadMigrations(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "foreign_keys(1)")
	pragmas.Add("_pragma", "synchronous(NORMAL)")

	var w, r *sql.DB
	if path == Memory {
		// One connection is the whole database: it serves reads and writes.
		w, err = sql.Open("sqlite", "file::memory:?"+pragmas.Encode())
		if err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetConnMaxIdleTime(0)
		w.SetConnMaxLifetime(0)
		r = w
	} else {
		if err := prepareFile(path); err != nil {
			return nil, err
		}
		wp := url.Values{"_txlock": {"immediate"}}
		for _, p := range pragmas["_pragma"] {
			wp.Add("_pragma", p)
		}
		wp.Add("_pragma", "journal_mode(WAL)")
		base := "file:" + (&url.URL{Path: path}).EscapedPath()
		if w, err = sql.Open("sqlite", base+"?"+wp.Encode()); err != nil {
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		// Open the writer first so WAL mode is set before readers attach.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open sqlite %s: %w: %w", path, model.ErrUnavailable, err)
		}
		rp := url.Values{}
		for _, p := range pragmas["_pragma"] {
			rp.Add("_pragma", p)
		}
		rp.Add("_pragma", "query_only(1)")
		if r, err = sql.Open("sqlite", base+"?"+rp.Encode()); err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open sqlite: %w", err)
		}
		r.SetMaxOpenConns(opts.ReadConns)
	}
	s := &Store{w: w, r: r}
	s.Store = sqlstore.New(w, r, dialect, ms, opts.Now)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// prepareFile creates the parent directory and an empty database file with
// mode 0600 so tokens' ciphertext is never world-readable, even briefly.
func prepareFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("store: create sqlite directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: create sqlite file: %w", err)
	}
	return f.Close()
}

// Close closes both pools.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close sqlite: %w", err)
	}
	return nil
}

var dialect = sqlstore.Dialect{
	Name: "sqlite",
	IsUnique: func(err error) bool {
		c := code(err)
		return c == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	IsForeignKey: func(err error) bool { return code(err) == sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY },
	IsUnavailable: func(err error) bool {
		switch code(err) & 0xff {
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED, sqlite3lib.SQLITE_CANTOPEN,
			sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL, sqlite3lib.SQLITE_READONLY:
			return true
		}
		return false
	},
}

func code(err error) int {
	var e *sqlite3.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
