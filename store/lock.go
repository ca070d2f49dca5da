package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

// ErrArchiverLockNotHeld is what an archiver's writes get while the
// PostgreSQL session that held its lock is gone (a server restart, a
// killed backend): another archiver may have taken the lock meanwhile, so
// nothing is written until this one has taken it again. It counts as the
// database being unavailable (Unavailable): a transaction is answered
// 5xx and the homeserver sends it again.
var ErrArchiverLockNotHeld = errors.New("the archiver lock's database session ended; writes wait until the lock is taken again")

// ArchiverLock is held by the one archiver process recording into a
// database; Release frees it for the next.
type ArchiverLock struct {
	release func() error
	taken   chan struct{}
	held    func() bool
}

// Release gives the lock up. The process exiting does too.
func (l *ArchiverLock) Release() error { return l.release() }

// Taken is closed when the lock is gone for good: on PostgreSQL its
// session ended (a server restart, a killed backend) and, before this
// process could take it again, another process took it. The store then
// refuses every write for ever. A flock cannot be lost; its channel never
// closes.
func (l *ArchiverLock) Taken() <-chan struct{} { return l.taken }

// Held reports whether the lock is held now: false while its PostgreSQL
// session is being replaced, and once it is taken.
func (l *ArchiverLock) Held() bool { return l.held == nil || l.held() }

// archiverGuard is how an archiver's store knows it holds the lock
// (Store.guard, set by LockArchiver on PostgreSQL).
type archiverGuard struct {
	// pid is the backend process of the session holding the lock, 0
	// while there is none.
	pid atomic.Int64
	// wake asks the lock's goroutine to check its session now: a write
	// found the lock not held by it.
	wake chan struct{}
}

// writable is nil unless this is an archiver's store whose lock's session
// is known to be gone. It guards the few writes that are one statement,
// outside beginWrite; a transaction of beginWrite asks the server too.
func (s *Store) writable() error {
	if g := s.guard.Load(); g != nil && g.pid.Load() == 0 {
		return ErrArchiverLockNotHeld
	}
	return nil
}

// lockedWriteSQL takes the writers' transaction lock, then says whether
// the archiver lock is held by the session $1 (a bigint key shows in
// pg_locks as classid 0, objid its value and objsubid 1). The lock is
// taken first (FROM), so what it waited for cannot have changed the
// answer.
const lockedWriteSQL = `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = 1836605811 AND objsubid = 1 AND granted AND pid = $1)
FROM (SELECT pg_advisory_xact_lock(1836605810)) AS writers`

// heldSQL says whether the session asking holds the archiver lock.
const heldSQL = `SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = 1836605811 AND objsubid = 1 AND granted AND pid = pg_backend_pid())`

// LockArchiver takes the database's archiver lock, or returns
// ErrArchiverRunning if another process holds it. On PostgreSQL it is a
// session advisory lock held on a connection of its own; on SQLite an
// exclusive flock on a file beside the database, which the kernel drops
// when the process dies, so a crash never leaves a stale lock behind.
//
// On PostgreSQL the lock's session is checked every LockCheckInterval.
// When it has ended (the server restarted), the lock is taken again on a
// new session, tried every second; meanwhile, and whenever a write
// transaction finds the lock not held by that session, the store refuses
// writes (ErrArchiverLockNotHeld), so that two archivers never write at
// once. If another process took the lock first, Taken is closed.
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

// tryArchiverLock tries to take the archiver lock on a new connection of
// its own, out of the pool (a session lock lives as long as the
// connection that took it), and returns it with its backend's process ID;
// got is false, and the connection closed, when another session holds
// the lock.
func (s *Store) tryArchiverLock(ctx context.Context) (conn *sql.Conn, pid int64, got bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if conn, err = s.db.Conn(ctx); err != nil {
		return nil, 0, false, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1), pg_backend_pid()`, int64(archiverLockKey)).Scan(&got, &pid); err != nil {
		conn.Close()
		return nil, 0, false, err
	}
	if !got {
		conn.Close()
		return nil, 0, false, nil
	}
	return conn, pid, true, nil
}

func (s *Store) lockPostgres(ctx context.Context) (*ArchiverLock, error) {
	conn, pid, got, err := s.tryArchiverLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the archiver lock: %w", err)
	}
	if !got {
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
	g := &archiverGuard{wake: make(chan struct{}, 1)}
	g.pid.Store(pid)
	s.guard.Store(g)
	taken, stop, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var unlockErr error
	go func() {
		defer close(stopped)
		for {
			wait := s.opts.LockCheckInterval
			if conn == nil {
				wait = min(wait, time.Second)
			}
			t := time.NewTimer(wait)
			select {
			case <-stop:
				t.Stop()
				if conn != nil {
					unlockErr = s.unlockArchiver(conn)
				}
				return
			case <-t.C:
			case <-g.wake:
				t.Stop()
			}
			if conn != nil {
				cctx, ccancel := s.readCtx(context.Background())
				var held bool
				err := conn.QueryRowContext(cctx, heldSQL).Scan(&held)
				ccancel()
				if err == nil && held {
					// Still held by this session, whatever a
					// write's check said.
					g.pid.Store(pid)
					continue
				}
				if err == nil {
					err = errors.New("the session no longer holds the lock")
				}
				g.pid.Store(0)
				conn.Close()
				conn = nil
				s.log.Error("the archiver lock's database session ended; nothing is written until the lock is taken again", "err", err)
			}
			c, newPID, got, err := s.tryArchiverLock(context.Background())
			switch {
			case err != nil:
				// The database is still away: try again in a second.
			case !got:
				s.log.Error("another archiver took the archiver lock while this one's database session was gone")
				close(taken)
				return
			default:
				conn, pid = c, newPID
				g.pid.Store(pid)
				s.log.Info("took the archiver lock again on a new database session; writing resumes")
			}
		}
	}()
	var once sync.Once
	return &ArchiverLock{taken: taken, held: func() bool { return g.pid.Load() != 0 }, release: func() error {
		once.Do(func() {
			close(stop)
			<-stopped
			select {
			case <-taken:
				// Another archiver holds it: this store writes
				// nothing more.
			default:
				// The store writes on as a one-off command's
				// does (a copy's destination, once copied).
				s.guard.CompareAndSwap(g, nil)
			}
		})
		return unlockErr
	}}, nil
}

// unlockArchiver releases the archiver lock held on conn and closes it.
func (s *Store) unlockArchiver(conn *sql.Conn) error {
	// Closing the connection ends the session and with it the lock,
	// even if the unlock below fails.
	defer conn.Close()
	uctx, ucancel := s.readCtx(context.Background())
	defer ucancel()
	if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, int64(archiverLockKey)); err != nil {
		return fmt.Errorf("release the archiver lock: %w", err)
	}
	return nil
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
