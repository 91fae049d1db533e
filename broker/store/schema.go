package store

import (
	"context"
	"errors"
	"fmt"
)

// ErrSchemaTooNew is wrapped by CheckSchema when the database was migrated by
// a newer broker: serving on it could misread or corrupt rows.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this broker")

// CheckSchema refuses a database whose applied schema version is newer than
// the one this binary knows. A replica calls it at start (after Migrate) so
// that an old replica left running during a rollout stops instead of writing
// rows a newer schema does not expect.
func CheckSchema(ctx context.Context, s Store) error {
	applied, known, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if applied > known {
		return fmt.Errorf("store: database schema version %d is newer than this broker knows (%d); upgrade the broker: %w",
			applied, known, ErrSchemaTooNew)
	}
	return nil
}
