package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrTargetNotEmpty means CopyTo's target already holds an archive (or
// anything else): copying into it would mix two archives' events and
// change-feed positions.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// copyBatch is how many rows CopyTo reads per query: each batch is one
// bounded query, so memory stays flat on a table of any size. An event's
// JSON is at most 64 KiB (the spec's limit), so a batch of events holds
// at most 32 MiB.
const copyBatch = 500

// pgMaxParams is PostgreSQL's limit on the parameters of one statement.
const pgMaxParams = 65535

// TableCopy is one table's part of a CopyTo.
type TableCopy struct {
	Table string
	// Rows is how many rows the source holds; Copied how many the target
	// holds after the copy. CopyTo fails unless they are equal.
	Rows, Copied int64
}

// CopyProgress is reported after each batch CopyTo writes.
type CopyProgress struct {
	Table         string
	Copied, Total int64
	// TableIndex counts from 1 to Tables.
	TableIndex, Tables int
}

// copyColumn is a column of the target's schema.
type copyColumn struct {
	name     string
	boolean  bool
	identity bool
}

// CopyTo copies every row of every table of this SQLite archive into dst,
// an empty PostgreSQL archive migrated to the same schema, keeping event
// IDs, nids and change-feed positions, and sets dst's identity sequences
// past the copied ids. A search index built against the source names its
// documents by the source's IDKey, which differs: archive-web rebuilds it
// (indexer's key scheme).
//
// The tables come from the schema, not from a list here, so a table a
// future migration adds is copied without anyone remembering to. It holds
// both databases' archiver locks (refusing while an archiver records into
// either) and the source's write lock throughout, so nothing written during
// the copy can be missed; writers on the source wait. The target is written
// in one transaction: a failed copy leaves it empty, to be tried again.
// progress, if not nil, is called after every batch.
func (s *Store) CopyTo(ctx context.Context, dst *Store, progress func(CopyProgress)) ([]TableCopy, error) {
	if s.dialect != sqlite || dst.dialect != postgres {
		return nil, fmt.Errorf("copy archive: only SQLite to PostgreSQL is supported, not %s to %s", s.Dialect(), dst.Dialect())
	}
	if sv, dv := s.SchemaVersion(), dst.SchemaVersion(); sv != dv {
		return nil, fmt.Errorf("copy archive: source schema version %d, target %d: open both with the same binary", sv, dv)
	}
	srcLock, err := s.LockArchiver(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy archive: source: %w", err)
	}
	defer func() {
		srcLock.Release()
		s.unguard() // a one-off command's store again
	}()
	dstLock, err := dst.LockArchiver(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy archive: target: %w", err)
	}
	defer func() {
		dstLock.Release()
		dst.unguard()
	}()

	src, err := s.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy archive: lock the source: %w", err)
	}
	defer src.Rollback()
	tx, err := dst.beginWrite(ctx)
	if err != nil {
		return nil, fmt.Errorf("copy archive: begin on the target: %w", err)
	}
	defer tx.Rollback()

	tables, err := s.copyTables(ctx, src, dst, tx)
	if err != nil {
		return nil, err
	}
	report := make([]TableCopy, 0, len(tables.names))
	for i, t := range tables.names {
		tc, err := s.copyTable(ctx, src, dst, tx, t, tables.cols[t], func(copied, total int64) {
			if progress != nil {
				progress(CopyProgress{Table: t, Copied: copied, Total: total, TableIndex: i + 1, Tables: len(tables.names)})
			}
		})
		if err != nil {
			return nil, err
		}
		report = append(report, tc)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("copy archive: commit on the target: %w", err)
	}
	// A bulk load leaves the planner without statistics and the events
	// without a visibility map until autovacuum gets to them; the first
	// day pages would be planned blind, and their counts read the table.
	if err := dst.AfterBulkWrite(ctx); err != nil {
		dst.log.Warn("vacuum and analyze after copy failed", "error", err)
	}
	return report, nil
}

// copyTables returns the tables to copy with the target's columns, in a
// stable order, after checking that both schemas have the same tables and
// columns and that the target is empty.
func (s *Store) copyTables(ctx context.Context, src *sql.Tx, dst *Store, tx *sql.Tx) (orderedTables, error) {
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	srcTables, err := queryStrings(rctx, src, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return orderedTables{}, fmt.Errorf("copy archive: list the source's tables: %w", err)
	}
	dctx, dcancel := dst.readCtx(ctx)
	defer dcancel()
	dstTables, err := queryStrings(dctx, tx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return orderedTables{}, fmt.Errorf("copy archive: list the target's tables: %w", err)
	}
	// schema_version is written by each database's own migrations, which
	// were checked to agree.
	srcTables = slices.DeleteFunc(srcTables, func(t string) bool { return t == "schema_version" })
	dstTables = slices.DeleteFunc(dstTables, func(t string) bool { return t == "schema_version" })
	if !slices.Equal(srcTables, dstTables) {
		return orderedTables{}, fmt.Errorf("copy archive: the schemas differ: source tables %v, target tables %v", srcTables, dstTables)
	}
	out := orderedTables{names: srcTables, cols: map[string][]copyColumn{}}
	for _, t := range srcTables {
		rows, err := tx.QueryContext(dctx, `SELECT column_name, data_type, is_identity FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, t)
		if err != nil {
			return orderedTables{}, fmt.Errorf("copy archive: columns of %s on the target: %w", t, err)
		}
		var cols []copyColumn
		for rows.Next() {
			var name, typ, ident string
			if err := rows.Scan(&name, &typ, &ident); err != nil {
				rows.Close()
				return orderedTables{}, fmt.Errorf("copy archive: columns of %s on the target: %w", t, err)
			}
			cols = append(cols, copyColumn{name: name, boolean: typ == "boolean", identity: ident == "YES"})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return orderedTables{}, fmt.Errorf("copy archive: columns of %s on the target: %w", t, err)
		}
		srcCols, err := queryStrings(rctx, src, `SELECT name FROM pragma_table_info($1)`, t)
		if err != nil {
			return orderedTables{}, fmt.Errorf("copy archive: columns of %s on the source: %w", t, err)
		}
		srcCols = slices.DeleteFunc(srcCols, func(c string) bool { return slices.Contains(sqliteOnlyColumns[t], c) })
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		a, b := slices.Sorted(slices.Values(srcCols)), slices.Sorted(slices.Values(names))
		if !slices.Equal(a, b) {
			return orderedTables{}, fmt.Errorf("copy archive: the schemas differ: %s has columns %v on the source, %v on the target", t, a, b)
		}
		out.cols[t] = cols
		var nonEmpty bool
		if err := tx.QueryRowContext(dctx, `SELECT EXISTS (SELECT 1 FROM `+quoteIdent(t)+`)`).Scan(&nonEmpty); err != nil {
			return orderedTables{}, fmt.Errorf("copy archive: check %s on the target is empty: %w", t, err)
		}
		if nonEmpty {
			return orderedTables{}, fmt.Errorf("copy archive: %w: table %s has rows; migrate into a new, empty database", ErrTargetNotEmpty, t)
		}
	}
	return out, nil
}

// sqliteOnlyColumns are the columns SQLite keeps of what PostgreSQL
// computes in its indexes (idh.go): not copied.
var sqliteOnlyColumns = map[string][]string{"events": {"eh", "meeting"}}

// orderedTables is the tables to copy, by name, with their columns.
type orderedTables struct {
	names []string
	cols  map[string][]copyColumn
}

// copyTable copies one table in batches ordered by SQLite's rowid, then
// checks the counts and moves the target's identity sequence past the
// copied ids.
func (s *Store) copyTable(ctx context.Context, src *sql.Tx, dst *Store, tx *sql.Tx, table string, cols []copyColumn, progress func(copied, total int64)) (TableCopy, error) {
	tc := TableCopy{Table: table}
	rctx, cancel := s.readCtx(ctx)
	err := src.QueryRowContext(rctx, `SELECT COUNT(*) FROM `+quoteIdent(table)).Scan(&tc.Rows)
	cancel()
	if err != nil {
		return tc, fmt.Errorf("copy archive: count %s on the source: %w", table, err)
	}
	names := make([]string, len(cols))
	identity := false
	for i, c := range cols {
		names[i] = quoteIdent(c.name)
		identity = identity || c.identity
	}
	sel := `SELECT rowid, ` + strings.Join(names, ", ") + ` FROM ` + quoteIdent(table) + ` WHERE rowid > $1 ORDER BY rowid LIMIT $2`
	insert := `INSERT INTO ` + quoteIdent(table) + ` (` + strings.Join(names, ", ") + `)`
	if identity {
		// Keep nids and change-feed positions as they are.
		insert += ` OVERRIDING SYSTEM VALUE`
	}
	perInsert := min(500, pgMaxParams/len(cols))
	var after int64
	for {
		batch, last, err := s.readCopyBatch(ctx, src, sel, after, cols)
		if err != nil {
			return tc, fmt.Errorf("copy archive: read %s: %w", table, err)
		}
		if len(batch) == 0 {
			break
		}
		after = last
		for start := 0; start < len(batch); start += perInsert {
			if err := dst.insertRows(ctx, tx, insert, len(cols), batch[start:min(start+perInsert, len(batch))]); err != nil {
				return tc, fmt.Errorf("copy archive: write %s: %w", table, err)
			}
		}
		tc.Copied += int64(len(batch))
		progress(tc.Copied, tc.Rows)
	}
	dctx, dcancel := context.WithTimeout(ctx, dst.writeTimeout)
	defer dcancel()
	if err := tx.QueryRowContext(dctx, `SELECT COUNT(*) FROM `+quoteIdent(table)).Scan(&tc.Copied); err != nil {
		return tc, fmt.Errorf("copy archive: count %s on the target: %w", table, err)
	}
	if tc.Copied != tc.Rows {
		return tc, fmt.Errorf("copy archive: %s has %d rows on the source but %d on the target", table, tc.Rows, tc.Copied)
	}
	for _, c := range cols {
		if !c.identity {
			continue
		}
		// Past the highest id ever handed out, not only the highest left:
		// SQLite's AUTOINCREMENT never reuses the ids of deleted rows, and
		// an index's checkpoint may name a change-feed position since
		// deleted.
		var next int64
		rctx, cancel := s.readCtx(ctx)
		err := src.QueryRowContext(rctx, `SELECT MAX(n) FROM (SELECT COALESCE(MAX(`+quoteIdent(c.name)+`), 0) AS n FROM `+quoteIdent(table)+
			` UNION ALL SELECT seq FROM sqlite_sequence WHERE name = $1)`, table).Scan(&next)
		cancel()
		if err != nil {
			return tc, fmt.Errorf("copy archive: highest %s.%s on the source: %w", table, c.name, err)
		}
		if _, err := tx.ExecContext(dctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3, false)`, table, c.name, next+1); err != nil {
			return tc, fmt.Errorf("copy archive: set the sequence of %s.%s: %w", table, c.name, err)
		}
	}
	return tc, nil
}

// readCopyBatch reads the rows after the given rowid, converted for the
// target: SQLite's 0/1 booleans to booleans, and text through dbText, as
// every write to PostgreSQL does (rows written before dbText existed may
// hold U+0000).
func (s *Store) readCopyBatch(ctx context.Context, src *sql.Tx, sel string, after int64, cols []copyColumn) ([][]any, int64, error) {
	rctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := src.QueryContext(rctx, sel, after, copyBatch)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var batch [][]any
	var last int64
	for rows.Next() {
		vals := make([]any, len(cols))
		dest := make([]any, len(cols)+1)
		dest[0] = &last
		for i := range vals {
			dest[i+1] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, 0, err
		}
		for i, c := range cols {
			switch v := vals[i].(type) {
			case int64:
				if c.boolean {
					vals[i] = v != 0
				}
			case []byte:
				vals[i] = dbText(string(v))
			case string:
				vals[i] = dbText(v)
			}
		}
		batch = append(batch, vals)
	}
	return batch, last, rows.Err()
}

// insertRows writes rows with one multi-row INSERT.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, insert string, ncols int, rows [][]any) error {
	var b strings.Builder
	b.WriteString(insert)
	b.WriteString(" VALUES ")
	args := make([]any, 0, len(rows)*ncols)
	for r, row := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range row {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", len(args)+1)
			args = append(args, row[c])
		}
		b.WriteByte(')')
	}
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	_, err := tx.ExecContext(ctx, b.String(), args...)
	return err
}

// queryStrings returns a one-column query's rows.
func queryStrings(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// quoteIdent quotes a table or column name read from the schema.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }
