package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // FTS5 is compiled in
)

// A peer is a search system people would use instead, loaded with the same
// messages. search runs one query of a class in a sort and returns the
// number of rows it produced.
type peer interface {
	name() string
	search(ctx context.Context, c queryClass, sort string) (int, error)
	size(ctx context.Context) (int64, error)
	close()
}

// pgLimit is the rows Synapse asks for when ranking: it ranks the best 500
// and paginates them itself. Recent-first pages (and every other system)
// fetch a page of 20.
const (
	pgRankLimit = 500
	pageSize    = 20
)

// pgFTS is PostgreSQL full-text search the way Synapse does it: the
// event_search table with its tsvector, GIN index and room and time
// indexes (synapse/storage/schema), queried with websearch_to_tsquery. The
// count query Synapse also runs per search is left out, in its favour.
type pgFTS struct{ pool *pgxpool.Pool }

func newPGFTS(ctx context.Context, dbURL string, msgs []message) (*pgFTS, error) {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	p := &pgFTS{pool: pool}
	for _, stmt := range []string{
		`CREATE TABLE event_search (event_id text, room_id text, sender text, key text, vector tsvector,
			origin_server_ts bigint, stream_ordering bigint)`,
		`CREATE UNLOGGED TABLE event_search_load (event_id text, room_id text, sender text, body text,
			origin_server_ts bigint, stream_ordering bigint)`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			pool.Close()
			return nil, err
		}
	}
	src := pgx.CopyFromSlice(len(msgs), func(i int) ([]any, error) {
		m := &msgs[i]
		return []any{m.id, m.room, m.sender, strings.ReplaceAll(m.body, "\x00", ""), m.ts, int64(i + 1)}, nil
	})
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"event_search_load"},
		[]string{"event_id", "room_id", "sender", "body", "origin_server_ts", "stream_ordering"}, src); err != nil {
		pool.Close()
		return nil, fmt.Errorf("load event_search: %w", err)
	}
	for _, stmt := range []string{
		`INSERT INTO event_search SELECT event_id, room_id, sender, 'content.body', to_tsvector('english', body),
			origin_server_ts, stream_ordering FROM event_search_load`,
		`DROP TABLE event_search_load`,
		`CREATE INDEX event_search_fts_idx ON event_search USING GIN (vector)`,
		`CREATE INDEX event_search_ev_ridx ON event_search (room_id)`,
		`CREATE UNIQUE INDEX event_search_event_id_idx ON event_search (event_id)`,
		`CREATE INDEX event_search_room_order ON event_search (room_id, origin_server_ts NULLS FIRST, stream_ordering NULLS FIRST)`,
		`CREATE INDEX event_search_order ON event_search (origin_server_ts NULLS FIRST, stream_ordering NULLS FIRST)`,
		`VACUUM ANALYZE event_search`,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			pool.Close()
			return nil, fmt.Errorf("%.40s…: %w", stmt, err)
		}
	}
	return p, nil
}

func (p *pgFTS) name() string { return "PostgreSQL FTS (Synapse)" }
func (p *pgFTS) close()       { p.pool.Close() }

func (p *pgFTS) size(ctx context.Context) (int64, error) {
	var n int64
	err := p.pool.QueryRow(ctx, `SELECT pg_total_relation_size('event_search')`).Scan(&n)
	return n, err
}

func (p *pgFTS) search(ctx context.Context, c queryClass, sort string) (int, error) {
	where, args := conditions(c, "vector @@ websearch_to_tsquery('english', $1)", c.Web, func(i int) string { return fmt.Sprintf("$%d", i) })
	q := `SELECT ts_rank_cd(vector, websearch_to_tsquery('english', $1)) AS rank, origin_server_ts, stream_ordering, room_id, event_id
		FROM event_search WHERE ` + where
	switch sort {
	case sortRank:
		q += fmt.Sprintf(" ORDER BY rank DESC LIMIT %d", pgRankLimit)
	case sortOldest:
		q += fmt.Sprintf(" ORDER BY origin_server_ts ASC NULLS LAST, stream_ordering ASC NULLS LAST LIMIT %d", pageSize)
	default:
		q += fmt.Sprintf(" ORDER BY origin_server_ts DESC NULLS LAST, stream_ordering DESC NULLS LAST LIMIT %d", pageSize)
	}
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return count(rows)
}

// conditions is the WHERE clause of a class: the text match, then its
// filters, with placeholders from ph (given the argument's position).
func conditions(c queryClass, match string, text any, ph func(int) string) (string, []any) {
	where, args := []string{match}, []any{text}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+ph(len(args)))
	}
	if c.room != "" {
		add("room_id = ", c.room)
	}
	if c.sender != "" {
		add("sender = ", c.sender)
	}
	if c.from != 0 {
		add("origin_server_ts >= ", c.from)
	}
	if c.to != 0 {
		add("origin_server_ts < ", c.to)
	}
	return strings.Join(where, " AND "), args
}

// count reads the rows a query returns.
func count(rows interface {
	Next() bool
	Err() error
}) (int, error) {
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// fts5 is SQLite FTS5 with the porter stemmer over unicode61, row IDs
// assigned in time order so that newest first is a walk down the row IDs.
type fts5 struct {
	db   *sql.DB
	path string
}

func newFTS5(ctx context.Context, dir string, msgs []message) (*fts5, error) {
	path := filepath.Join(dir, "fts5.db")
	os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	f := &fts5{db: db, path: path}
	if _, err := db.ExecContext(ctx, `CREATE VIRTUAL TABLE messages USING fts5(body, room_id UNINDEXED, sender UNINDEXED,
		origin_server_ts UNINDEXED, event_id UNINDEXED, tokenize = 'porter unicode61')`); err != nil {
		db.Close()
		return nil, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO messages(rowid, body, room_id, sender, origin_server_ts, event_id) VALUES (?, ?, ?, ?, ?, ?)`)
	if err == nil {
		for i, m := range msgs { // msgs are in time order
			if _, err = stmt.ExecContext(ctx, i+1, m.body, m.room, m.sender, m.ts, m.id); err != nil {
				break
			}
		}
	}
	if err == nil {
		err = tx.Commit()
	} else {
		tx.Rollback()
	}
	if err == nil {
		_, err = db.ExecContext(ctx, `INSERT INTO messages(messages) VALUES ('optimize')`)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load FTS5: %w", err)
	}
	return f, nil
}

func (f *fts5) name() string { return "SQLite FTS5" }
func (f *fts5) close()       { f.db.Close() }

func (f *fts5) size(context.Context) (int64, error) {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if st, err := os.Stat(f.path + suffix); err == nil {
			n += st.Size()
		}
	}
	return n, nil
}

func (f *fts5) search(ctx context.Context, c queryClass, sort string) (int, error) {
	where, args := conditions(c, "messages MATCH ?", c.FTS5, func(int) string { return "?" })
	order := "rank"
	switch sort {
	case sortNewest:
		order = "rowid DESC"
	case sortOldest:
		order = "rowid ASC"
	}
	rows, err := f.db.QueryContext(ctx, `SELECT rowid, event_id, room_id FROM messages WHERE `+where+
		` ORDER BY `+order+fmt.Sprintf(" LIMIT %d", pageSize), args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	return count(rows)
}
