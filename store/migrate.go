package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the migrations in order. A file is named
// NNN_description.sql; numbers start at 1 and have no gaps. Each number
// comes from migrations/<dialect>/ when the dialects need different SQL
// (identity columns), else from migrations/common/.
func (s *Store) migrations() ([]migration, error) {
	byVersion := map[int]migration{}
	for _, dir := range []string{"migrations/common", path.Join("migrations", s.Dialect())} {
		entries, err := fs.ReadDir(migrationFS, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			num, _, ok := strings.Cut(e.Name(), "_")
			if !ok || !strings.HasSuffix(e.Name(), ".sql") {
				return nil, fmt.Errorf("migration file %s is not named NNN_name.sql", e.Name())
			}
			v, err := strconv.Atoi(num)
			if err != nil {
				return nil, fmt.Errorf("migration file %s: %w", e.Name(), err)
			}
			b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			byVersion[v] = migration{version: v, name: e.Name(), sql: string(b)} // the dialect's wins
		}
	}
	ms := make([]migration, 0, len(byVersion))
	for _, m := range byVersion {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: expected version %d, found %s", i+1, m.name)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest migration this binary knows.
func (s *Store) SchemaVersion() int {
	ms, err := s.migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

func (s *Store) migrate(ctx context.Context) error {
	ms, err := s.migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	// archive-web may run under a role that can only read (doc/deploy.md);
	// PostgreSQL refuses it even CREATE TABLE IF NOT EXISTS on an existing
	// table, so an up-to-date schema must be opened without one.
	have := `SELECT to_regclass('schema_version') IS NOT NULL`
	if s.dialect == sqlite {
		have = `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'`
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, have).Scan(&exists); err != nil {
		return fmt.Errorf("migrate: look for schema_version: %w", err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: create schema_version: %w", err)
		}
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema_version: %w", err)
	}
	if current > len(ms) {
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade mxarchive", ErrSchemaTooNew, current, len(ms))
	}
	// A role that may not change the schema (archive-web's read-only one,
	// doc/deploy.md) meets a schema an older release left: the refusal
	// names a table ("must be owner of table alias_claims"), which reads
	// as a broken grant, or, from a role with default_transaction_read_only
	// on (doc/deploy.md's other way), "cannot execute DELETE in a read-only
	// transaction", which reads as a broken database.
	mayNot := func(err error) error {
		var pe *pgconn.PgError
		// 42501 insufficient_privilege, 25006 read_only_sql_transaction.
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "25006") {
			return fmt.Errorf("migrate: the database's schema is at version %d and this binary needs version %d, "+
				"which this database role may not apply (%w): start the upgraded archiver first, which migrates the database, then this program", current, len(ms), err)
		}
		return err
	}
	for _, m := range ms[current:] {
		apply, err := s.applies(ctx, tx, m)
		if err != nil {
			return fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		if !apply {
			s.log.Info("migration not needed by this database", "migration", m.name)
		} else if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return mayNot(fmt.Errorf("migrate: apply %s: %w", m.name, err))
		} else if step := goSteps[m.version]; step != nil {
			if err := step(ctx, tx, s.dialect); err != nil {
				return mayNot(fmt.Errorf("migrate: apply %s: %w", m.name, err))
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
			return mayNot(fmt.Errorf("migrate: %w", err))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, m.version); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		s.log.Info("applied migration", "migration", m.name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// goSteps are the parts of migrations SQL cannot do, each run after its
// version's file, in the same transaction.
var goSteps = map[int]func(context.Context, *sql.Tx, dialect) error{
	32: anyDialect(fillMediaSites),
	34: anyDialect(recountRooms),
	35: anyDialect(fillMediaSites),
	36: anyDialect(unpinRooms),
	37: anyDialect(unpinRooms),
	38: retimeRooms,
	39: anyDialect(dropEditFallbackRefs),
}

// anyDialect is a migration step that runs alike on both databases.
func anyDialect(step func(context.Context, *sql.Tx) error) func(context.Context, *sql.Tx, dialect) error {
	return func(ctx context.Context, tx *sql.Tx, _ dialect) error { return step(ctx, tx) }
}

// onlyIfColumn is a migration's optional first-line condition,
// "-- only-if-column: table.column": the migration runs only on a database
// that has that column. A database made before the release that dropped a
// column has it; one made by a development build in between never did.
// unlessColumn is the opposite, "-- unless-column: table.column", for a
// migration that adds the column (SQLite cannot add one "IF NOT EXISTS").
const (
	onlyIfColumn = "-- only-if-column: "
	unlessColumn = "-- unless-column: "
)

func (s *Store) applies(ctx context.Context, tx *sql.Tx, m migration) (bool, error) {
	first, _, _ := strings.Cut(m.sql, "\n")
	first = strings.TrimSpace(first)
	want := true
	cond, ok := strings.CutPrefix(first, onlyIfColumn)
	if !ok {
		if cond, ok = strings.CutPrefix(first, unlessColumn); !ok {
			return true, nil
		}
		want = false
	}
	table, column, ok := strings.Cut(strings.TrimSpace(cond), ".")
	if !ok {
		return false, fmt.Errorf("%q is not table.column", cond)
	}
	q := `SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`
	if s.dialect == sqlite {
		q = `SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2`
	}
	var n int
	err := tx.QueryRowContext(ctx, q, table, column).Scan(&n)
	return (n > 0) == want, err
}
