package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrArchiverRunning means another archiver process already records into
// this database: two would both acknowledge the homeserver's transactions
// and sweep and backfill the same rooms.
var ErrArchiverRunning = errors.New("another archiver is already running on this database")

// archiverLockKey is the PostgreSQL session advisory lock an archiver holds
// for its life. It differs from the transaction lock that serializes writers
// (1836605810, "mxar" in beginWrite), so one-off commands such as import and
// takedown still write beside a running archiver.
const archiverLockKey = 1836605811

// ArchiverLock is held by the one archiver process recording into a
// database; Release frees it for the next.
type ArchiverLock struct {
	release func() error
	lost    chan struct{}
}

// Release gives the lock up. The process exiting does too.
func (l *ArchiverLock) Release() error { return l.release() }

// Lost is closed when the lock is gone without Release: on PostgreSQL its
// session ended (a server restart, a killed backend), and another archiver
// may take it. A flock cannot be lost; its channel never closes.
func (l *ArchiverLock) Lost() <-chan struct{} { return l.lost }

// LockArchiver takes the database's archiver lock, or returns
// ErrArchiverRunning if another process holds it. On PostgreSQL it is a
// session advisory lock held on a connection of its own; on SQLite an
// exclusive flock on a file beside the database, which the kernel drops
// when the process dies, so a crash never leaves a stale lock behind.
func (s *Store) LockArchiver(ctx context.Context) (*ArchiverLock, error) {
	if s.dialect == postgres {
		return s.lockPostgres(ctx)
	}
	if s.path == "" {
		// An in-memory database is private to this process.
		return &ArchiverLock{release: func() error { return nil }}, nil
	}
	return lockFile(s.path + ".archiver-lock")
}

func (s *Store) lockPostgres(ctx context.Context) (*ArchiverLock, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	// A connection of its own, out of the pool: a session lock lives as
	// long as the connection that took it.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the archiver lock: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(archiverLockKey)).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("take the archiver lock: %w", err)
	}
	if !got {
		conn.Close()
		var pid int64
		// Name the holder for the operator, best effort: the lock may
		// have been released meanwhile.
		q, qcancel := s.readCtx(context.Background())
		defer qcancel()
		_ = s.db.QueryRowContext(q, `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1`, int64(archiverLockKey)).Scan(&pid)
		if pid != 0 {
			return nil, fmt.Errorf("%w (PostgreSQL backend %d holds its lock; stop that archiver first)", ErrArchiverRunning, pid)
		}
		return nil, fmt.Errorf("%w (stop that archiver first)", ErrArchiverRunning)
	}
	lost, stop, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.opts.LockCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			cctx, ccancel := s.readCtx(context.Background())
			_, err := conn.ExecContext(cctx, `SELECT 1`)
			ccancel()
			if err != nil {
				s.log.Error("the archiver lock's database session ended; another archiver may take it", "err", err)
				close(lost)
				return
			}
		}
	}()
	return &ArchiverLock{lost: lost, release: func() error {
		close(stop)
		<-stopped
		// Closing the connection ends the session and with it the lock,
		// even if the unlock below fails.
		defer conn.Close()
		uctx, ucancel := s.readCtx(context.Background())
		defer ucancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, int64(archiverLockKey)); err != nil {
			return fmt.Errorf("release the archiver lock: %w", err)
		}
		return nil
	}}, nil
}

// sqlitePath is the file a SQLite DSN names, or "" for an in-memory one.
func sqlitePath(path string) string {
	if !strings.HasPrefix(path, "file:") {
		if path == ":memory:" {
			return ""
		}
		return path
	}
	p, query, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
	if p == ":memory:" || strings.Contains(query, "mode=memory") {
		return ""
	}
	return p
}
