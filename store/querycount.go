package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5/stdlib"
)

// CountQueries reconnects the store through a driver wrapper that counts
// every statement sent to the database, and returns the count so far. It
// is for tests that bound the queries a page issues (load, then build: no
// query per row), so it runs against the real database of either dialect.
// Call it before the store is in use: it replaces the connection pool
// (with database/sql's default pool settings).
func (s *Store) CountQueries() (func() int64, error) {
	dsn := s.uri
	if s.dialect == sqlite {
		if s.path == "" {
			return nil, errors.New("count queries: an in-memory SQLite database cannot be reopened")
		}
		dsn = sqliteDSN(s.path, s.opts)
	}
	n := new(atomic.Int64)
	db := sql.OpenDB(countingConnector{drv: s.db.Driver(), dsn: dsn, n: n})
	if err := db.PingContext(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("count queries: %w", err)
	}
	old := s.db
	s.db = db
	old.Close()
	if err := s.prepareWrites(context.Background()); err != nil {
		return nil, fmt.Errorf("count queries: %w", err)
	}
	n.Store(0)
	return n.Load, nil
}

type countingConnector struct {
	drv driver.Driver
	dsn string
	n   *atomic.Int64
}

func (c countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	// As openPostgres's connections: the writer's arrays are sent as they
	// are, the way the Store's own pool sends them.
	if pc, ok := conn.(*stdlib.Conn); ok {
		if err := registerArrays(pc.Conn()); err != nil {
			pc.Close()
			return nil, err
		}
	}
	return &countingConn{Conn: conn, n: c.n}, nil
}

func (c countingConnector) Driver() driver.Driver { return c.drv }

// countingConn forwards to the driver's connection, counting statements.
// Both drivers implement the context interfaces it relies on.
type countingConn struct {
	driver.Conn
	n *atomic.Int64
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.n.Add(1)
	return q.QueryContext(ctx, query, args)
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := c.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	c.n.Add(1)
	return e.ExecContext(ctx, query, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, n: c.n}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	b, ok := c.Conn.(driver.ConnBeginTx)
	if !ok {
		return nil, errors.New("count queries: the driver has no BeginTx")
	}
	return b.BeginTx(ctx, opts)
}

func (c *countingConn) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

type countingStmt struct {
	driver.Stmt
	n *atomic.Int64
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := s.Stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, errors.New("count queries: the driver's statements have no QueryContext")
	}
	s.n.Add(1)
	return q.QueryContext(ctx, args)
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	e, ok := s.Stmt.(driver.StmtExecContext)
	if !ok {
		return nil, errors.New("count queries: the driver's statements have no ExecContext")
	}
	s.n.Add(1)
	return e.ExecContext(ctx, args)
}

func (s *countingStmt) CheckNamedValue(v *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(v)
	}
	return driver.ErrSkip
}
