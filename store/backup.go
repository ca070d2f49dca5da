package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
		return errPgDump
	}
	return backupSQLite(ctx, s.db, path)
}

var errPgDump = errors.New("backup: this archive is on PostgreSQL: back it up with pg_dump (see doc/deploy.md)")

// BackupAsIs is Backup of the archive cfg and dataDir name, without
// opening it as a store: Open migrates the schema first, so a backup
// taken with a new binary before an upgrade ("back up before every
// upgrade", doc/deploy.md) held the new schema, which the old binary
// cannot open, and had migrated the live archive under it.
func BackupAsIs(ctx context.Context, cfg Config, dataDir, path string) error {
	switch cfg.Type {
	case "", "sqlite", "sqlite3":
	case "postgres", "postgresql":
		return errPgDump
	default:
		return fmt.Errorf("backup: %w %q (want sqlite or postgres)", ErrUnknownDBType, cfg.Type)
	}
	file := cfg.URI
	if file == "" {
		file = filepath.Join(dataDir, "mxarchive.db")
	}
	// Opening a file that is not there would make an empty archive.
	if p := sqlitePath(file); p != "" {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("backup: no archive to copy: %w", err)
		}
	}
	db, err := sql.Open("sqlite", sqliteDSN(file, Options{ReadMostly: true}))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer db.Close()
	return backupSQLite(ctx, db, path)
}

// backupSQLite copies the SQLite database db to the new file path.
func backupSQLite(ctx context.Context, db *sql.DB, path string) error {
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
	if _, err := db.ExecContext(ctx, `VACUUM INTO $1`, partial); err != nil {
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
