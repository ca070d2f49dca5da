package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
)

// Prepared reads. modernc.org/sqlite compiles every query it is given
// afresh, and compiling cost a day page's reads about as much as running
// them (Related's IN list of 500 placeholders most of all); pgx already
// keeps each connection's statements by their text. So on SQLite the
// reads pages issue on every request run as statements prepared once
// (database/sql prepares each on a connection the first time it runs
// there), and IN lists are one JSON parameter on SQLite (idList) and come
// in a few fixed lengths on PostgreSQL (inListPadded), so their texts
// repeat on both databases. A write batch's inserts and the
// statements it runs once or once a room are kept too (writer.stmt).

// maxPrepared bounds the statements kept; past it queries run unprepared.
// Every text kept is a constant of this package (IN lists one parameter
// or padded to one of a few lengths), so the bound is never reached in
// practice.
const maxPrepared = 256

type stmtCache struct {
	mu sync.Mutex
	db *sql.DB // the pool the statements belong to
	m  map[string]*sql.Stmt
}

// query runs a read, prepared once on SQLite.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, s.dbForm(query), args...)
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.prepared(ctx, query)
	if err != nil || st == nil {
		// A failed prepare fails the query again, with its error.
		return s.db.QueryRowContext(ctx, s.dbForm(query), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// prepared is the statement for query, prepared now if it is new; nil
// when the query is to run unprepared (PostgreSQL, or the cache full).
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.dialect != sqlite {
		return nil, nil
	}
	c := &s.stmts
	db := s.db
	c.mu.Lock()
	if c.db != db {
		// The pool was replaced (CountQueries): its statements went with it.
		c.db, c.m = db, map[string]*sql.Stmt{}
	}
	st, ok := c.m[query]
	full := len(c.m) >= maxPrepared
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, sqliteForm(query))
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != db {
		return st, nil // left to the old pool, which closes it
	}
	if old, ok := c.m[query]; ok {
		st.Close() // prepared twice at once: keep one
		return old, nil
	}
	c.m[query] = st
	return st, nil
}

// preparedOnly is the statement prepared for query, or nil: unlike
// prepared it prepares nothing, so it needs no connection.
func (s *Store) preparedOnly(query string) *sql.Stmt {
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db != s.db {
		return nil
	}
	return c.m[query]
}

// prepareWrites prepares, on SQLite, the statements every write batch
// runs (writeTexts, used through writer.stmt). It runs when the pool is
// new, never inside a write transaction: that holds a connection, and
// preparing on another one could wait for ever on a pool of one. A
// ReadMostly store (archive-web) writes nothing a batch would, and skips
// it; should it write, its statements are prepared for the transaction.
func (s *Store) prepareWrites(ctx context.Context) error {
	if s.dialect != sqlite || s.opts.ReadMostly {
		return nil
	}
	for _, q := range writeTexts() {
		if _, err := s.prepared(ctx, q); err != nil {
			return fmt.Errorf("prepare writes: %w", err)
		}
	}
	return nil
}

// closeStmts closes the prepared statements (before the pool closes).
func (s *Store) closeStmts() {
	c := &s.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
	c.db = nil
}

// inListPadded returns "$1,…,$n" and the ids as arguments, for an IN
// list, padded (by repeating its last ID, which an IN list ignores) to the
// next power of two, or to maxIDsPerQuery past 256, so that a query's
// text takes one of ten forms.
// ids must not be empty.
func inListPadded[T ~string](ids []T) (string, []any) {
	return padded(ids, func(id T) any { return string(id) })
}

// padded is a list of numbered parameters for vs, padded to paddedLen by
// repeating the last, and their arguments (as arg makes them).
func padded[T any](vs []T, arg func(T) any) (string, []any) {
	n := paddedLen(len(vs))
	ph := make([]byte, 0, 5*n)
	args := make([]any, n)
	for i := range n {
		if i > 0 {
			ph = append(ph, ',')
		}
		ph = strconv.AppendInt(append(ph, '$'), int64(i+1), 10)
		args[i] = arg(vs[min(i, len(vs)-1)])
	}
	return string(ph), args
}

// paddedLen is the length a list of n (at most maxIDsPerQuery) is padded
// to: the next power of two, or maxIDsPerQuery past 256.
func paddedLen(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	if p > 256 {
		p = max(n, maxIDsPerQuery)
	}
	return p
}

// Warm readies the store for a reader's first requests: the copy of
// opt-outs and policies loaded (three queries a first page would make)
// and conns of the pool's connections opened (a connection, on
// PostgreSQL a backend, costs milliseconds to set up), the idle ones
// kept by the pool. An error says the database did not answer.
func (s *Store) Warm(ctx context.Context, conns int) error {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if _, err := s.consentNow(ctx); err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	held, release, err := s.hold(ctx, conns)
	defer release()
	if err != nil {
		return fmt.Errorf("warm: %w", err)
	}
	for _, c := range held {
		if err := c.PingContext(ctx); err != nil {
			return fmt.Errorf("warm: %w", err)
		}
	}
	return nil
}

// hold takes n of the pool's connections at once, each a session of its
// own, opening those the pool lacks; release gives back those it took,
// also when err says it could not take them all.
func (s *Store) hold(ctx context.Context, n int) (held []*sql.Conn, release func(), err error) {
	held = make([]*sql.Conn, 0, n)
	release = func() {
		for _, c := range held {
			c.Close()
		}
	}
	for range n {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return held, release, err
		}
		held = append(held, c)
	}
	return held, release, nil
}
