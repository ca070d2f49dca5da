package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// backupTimeout bounds one backup: VACUUM INTO copies the whole database,
// far longer than any other statement, yet must not hang for ever.
const backupTimeout = 2 * time.Hour

// Backup writes a consistent copy of a SQLite archive to path while it
// keeps running (VACUUM INTO reads one snapshot; writers go on). It never
// overwrites a file, and a failed backup leaves none behind. PostgreSQL
// archives are backed up with pg_dump.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.dialect == postgres {
		return errors.New("backup: this archive is on PostgreSQL: back it up with pg_dump (see doc/deploy.md)")
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("backup: %s exists; name a new file", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: %w", err)
	}
	partial := path + ".partial"
	if err := os.Remove(partial); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("backup: remove an old partial copy: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, backupTimeout)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO $1`, partial); err != nil {
		os.Remove(partial)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	// A hard link, not a rename: it fails rather than replace a file
	// created meanwhile.
	if err := os.Link(partial, path); err != nil {
		os.Remove(partial)
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Remove(partial); err != nil {
		return fmt.Errorf("backup: remove the partial name: %w", err)
	}
	return nil
}
