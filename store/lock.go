package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
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

// ErrArchiverLockNotHeld is what an archiver's writes get while it does
// not hold its lock: the PostgreSQL session that held it ended (a server
// restart, a killed backend) and another archiver may have taken the lock
// meanwhile, so nothing is written until this one has taken it again (or
// for good, once another has, or once it was released). It counts as the
// database being unavailable (Unavailable): a transaction is answered 5xx
// and the homeserver sends it again.
var ErrArchiverLockNotHeld = errors.New("this archiver does not hold the archiver lock now (its database session ended): nothing is written until it takes the lock again, and it stops if another archiver took it")

// ArchiverLock is held by the one archiver process recording into a
// database; Release frees it for the next.
type ArchiverLock struct {
	release func() error
	taken   chan struct{}
	held    func() bool
}

// Release gives the lock up; the store writes nothing more as an archiver
// (on PostgreSQL its writes are refused from then on). The process exiting
// gives the lock up too.
func (l *ArchiverLock) Release() error { return l.release() }

// Taken is closed when the lock is gone for good: on PostgreSQL its
// session ended (a server restart, a killed backend) and, before this
// process could take it again, another process took it. The store then
// refuses every write for ever. A flock cannot be lost; its channel never
// closes.
func (l *ArchiverLock) Taken() <-chan struct{} { return l.taken }

// Held reports whether the lock is held now: false while its PostgreSQL
// session is being replaced, once another has taken it, and once
// released.
func (l *ArchiverLock) Held() bool { return l.held == nil || l.held() }

// lockSession is the PostgreSQL session holding the archiver lock: its
// backend's process ID and start, since a process ID alone is reused (a
// restarted server numbers its backends from where the system's count
// is, a container's from 1 again).
type lockSession struct {
	pid   int64
	start time.Time
}

// sessionKey is a lockSession as a map's key.
type sessionKey struct{ pid, startMicros int64 }

func (l *lockSession) key() sessionKey { return sessionKey{l.pid, l.start.UnixMicro()} }

// maxOwnSessions bounds the sessions an archiver remembers as its own
// while it takes the lock again: one a second at most, each a try whose
// answer was lost.
const maxOwnSessions = 1000

// archiverGuard is how an archiver's store knows it holds the lock
// (Store.guard, set by LockArchiver on PostgreSQL).
type archiverGuard struct {
	// session holds the lock; nil while none does.
	session atomic.Pointer[lockSession]
	// wake asks the lock's goroutine to check its session now: a write
	// found the lock not held by it.
	wake chan struct{}
}

// sessionSQL says which session asks: its backend's process and start.
const sessionSQL = `SELECT pg_backend_pid(), (SELECT backend_start FROM pg_stat_get_activity(pg_backend_pid()))`

// heldByWhere is the condition on pg_locks (l) that its row is the
// archiver lock of this database, held (a bigint key shows as classid 0,
// objid its value and objsubid 1).
const heldByWhere = `l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.classid = 0 AND l.objid = 1836605811 AND l.objsubid = 1 AND l.granted`

// lockedWriteSQL takes the writers' transaction lock, then says whether
// this database's archiver lock is held by the lock's session ($1 its
// backend's process, $2 its start). The writers' lock is taken first
// (FROM), so what the write waited for cannot have changed the answer.
// It reads the lock table: that a session is alive does not say it holds
// the lock, since a dying backend frees its locks before it leaves
// pg_stat_activity, and a pooler's DISCARD ALL frees them with the
// session kept (helper-83's review). Reading pg_locks copies the whole
// cluster's lock table: 0.05-0.1 ms a write transaction beside few locks,
// 12 ms beside a session holding 20,000 (helper-82's measurement).
const lockedWriteSQL = `SELECT EXISTS (SELECT FROM pg_locks l, pg_stat_get_activity(l.pid) a WHERE ` + heldByWhere + ` AND l.pid = $1 AND a.backend_start = $2)
FROM (SELECT pg_advisory_xact_lock(1836605810)) AS writers`

// heldSQL says whether the session asking holds the archiver lock.
const heldSQL = `SELECT EXISTS (SELECT FROM pg_locks l WHERE ` + heldByWhere + ` AND l.pid = pg_backend_pid())`

// holderSQL names the session that holds the archiver lock.
const holderSQL = `SELECT l.pid, a.backend_start FROM pg_locks l, pg_stat_get_activity(l.pid) a WHERE ` + heldByWhere + ` LIMIT 1`

// guardedWrite is beginWrite's check in an archiver's store: nil if its
// lock's session (as the guard knows it) holds the archiver lock now,
// asked of the server once the writers' lock is held; otherwise
// ErrArchiverLockNotHeld, and the lock's goroutine is told.
func (s *Store) guardedWrite(ctx context.Context, tx *sql.Tx, g *archiverGuard) error {
	sess := g.session.Load()
	if sess == nil {
		return ErrArchiverLockNotHeld
	}
	var held bool
	if err := tx.QueryRowContext(ctx, lockedWriteSQL, sess.pid, sess.start).Scan(&held); err != nil {
		return err
	}
	if held {
		return nil
	}
	g.session.CompareAndSwap(sess, nil)
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return ErrArchiverLockNotHeld
}

// execer is what execWrite's statements run on: the pool or a
// transaction.
type execer interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

// execWrite runs statements that each write on their own (no transaction
// needed): through db, or, in an archiver's store on PostgreSQL, in a
// transaction of beginWrite, whose check says the lock is held.
func (s *Store) execWrite(ctx context.Context, f func(ex execer) error) error {
	if s.guard.Load() == nil {
		return f(s.db)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// LockArchiver takes the database's archiver lock, or returns
// ErrArchiverRunning if another process holds it. On PostgreSQL it is a
// session advisory lock held on a connection of its own; on SQLite an
// exclusive flock on a file beside the database, which the kernel drops
// when the process dies, so a crash never leaves a stale lock behind.
//
// On PostgreSQL every write of the store from then on (beginWrite,
// execWrite) asks the server, in its transaction and once it holds the
// writers' lock, whether the lock's session still holds the archiver lock,
// and is refused (ErrArchiverLockNotHeld) if not, so that two archivers
// never write at once. The lock's session is checked every
// LockCheckInterval, and at once after such a refusal; when it has ended
// (the server restarted), the lock is taken again on a new session, tried
// every second. If another process took it first, Taken is closed.
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
// connection that took it), and returns it with its session; got is
// false, and the connection closed, when another session holds the lock.
// The session is known before the lock is asked for, and returned with
// an error that came after: its answer lost (a network cut, a time limit),
// it may hold the lock, and is the archiver's own.
func (s *Store) tryArchiverLock(ctx context.Context) (conn *sql.Conn, sess *lockSession, got bool, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	if conn, err = s.db.Conn(ctx); err != nil {
		return nil, nil, false, err
	}
	sess = new(lockSession)
	if err := conn.QueryRowContext(ctx, sessionSQL).Scan(&sess.pid, &sess.start); err != nil {
		discard(conn)
		return nil, nil, false, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(archiverLockKey)).Scan(&got); err != nil {
		discard(conn)
		return nil, sess, false, err
	}
	if !got {
		conn.Close()
		return nil, sess, false, nil
	}
	return conn, sess, true, nil
}

// lockHolder names the session holding the archiver lock: nil and no
// error if none does; an error if it cannot say (nor when a holder whose
// start it may not see, another role's, is another archiver's).
func (s *Store) lockHolder() (*lockSession, error) {
	ctx, cancel := s.readCtx(context.Background())
	defer cancel()
	var h lockSession
	var start sql.NullTime
	err := s.db.QueryRowContext(ctx, holderSQL).Scan(&h.pid, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h.start = start.Time // zero, another role's session: not this archiver's
	return &h, nil
}

// discard closes conn and keeps database/sql from giving its session to
// the pool, where it would hold whatever lock it held.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	conn.Close()
}

func (s *Store) lockPostgres(ctx context.Context) (*ArchiverLock, error) {
	conn, sess, got, err := s.tryArchiverLock(ctx)
	if err != nil {
		return nil, fmt.Errorf("take the archiver lock: %w", err)
	}
	if !got {
		// Name the holder for the operator, best effort: the lock may
		// have been released meanwhile.
		if h, _ := s.lockHolder(); h != nil {
			return nil, fmt.Errorf("%w (PostgreSQL backend %d holds its lock; stop that archiver first)", ErrArchiverRunning, h.pid)
		}
		return nil, fmt.Errorf("%w (stop that archiver first)", ErrArchiverRunning)
	}
	g := &archiverGuard{wake: make(chan struct{}, 1)}
	g.session.Store(sess)
	s.guard.Store(g)
	taken, stop, stopped := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var unlockErr error
	go func() {
		defer close(stopped)
		// last is the session that held the lock last; ours are the
		// sessions of this archiver's that may hold it, alive on the
		// server after their connection broke: last, and the tries to
		// take it again whose answer was lost. Such a holder is not
		// another archiver.
		last := sess
		ours := map[sessionKey]bool{sess.key(): true}
		for {
			wait := s.opts.LockCheckInterval
			if conn == nil {
				wait = min(wait, time.Second)
			}
			t := time.NewTimer(wait)
			select {
			case <-stop:
				t.Stop()
				g.session.Store(nil)
				if conn != nil {
					unlockErr = s.unlockArchiver(conn)
				} else if h, err := s.lockHolder(); err == nil && h != nil && ours[h.key()] {
					// A try whose answer was lost holds it: the
					// next archiver would be refused until the
					// server drops that session.
					s.endSession(h)
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
					// Still held by this session: a write that
					// found otherwise reached another server.
					if g.session.Load() == nil {
						s.log.Error("a write found the archiver lock not held, but its session holds it: do the connections reach different servers?")
					}
					g.session.Store(last)
					continue
				}
				if err == nil {
					err = errors.New("the session no longer holds the lock")
				}
				g.session.Store(nil)
				discard(conn)
				conn = nil
				s.log.Error("the archiver lock's database session ended; nothing is written until the lock is taken again", "err", err)
			}
			c, next, got, err := s.tryArchiverLock(context.Background())
			if err != nil && next != nil {
				// Its answer lost, it may hold the lock.
				if len(ours) >= maxOwnSessions {
					clear(ours)
					ours[last.key()] = true
				}
				ours[next.key()] = true
			}
			switch {
			case err != nil:
				// The database is still away: try again in a second.
			case got:
				conn, last = c, next
				// No other session of this archiver's can hold
				// the lock now.
				ours = map[sessionKey]bool{next.key(): true}
				g.session.Store(next)
				s.log.Info("took the archiver lock again on a new database session; writing resumes")
			default:
				h, err := s.lockHolder()
				switch {
				case err != nil || h == nil:
					// It cannot say, or the holder has gone
					// meanwhile: try again in a second.
				case ours[h.key()]:
					// This archiver's own session, whose connection
					// broke (a network cut, a check timed out) while
					// the server still keeps it: end it and take the
					// lock again.
					s.log.Warn("this archiver's previous lock session is still alive on the server; ending it", "pid", h.pid)
					s.endSession(h)
				default:
					s.log.Error("another archiver took the archiver lock while this one's database session was gone", "holder", h.pid)
					close(taken)
					return
				}
			}
		}
	}()
	var once sync.Once
	return &ArchiverLock{taken: taken, held: func() bool { return g.session.Load() != nil }, release: func() error {
		once.Do(func() {
			// The goroutine tells the store nothing holds the lock,
			// then unlocks: whatever of the archiver still runs
			// writes nothing, and another may start.
			close(stop)
			<-stopped
		})
		return unlockErr
	}}, nil
}

// endSession ends the session h, this archiver's, if it is still that
// session (a process ID alone may have been reused meanwhile).
func (s *Store) endSession(h *lockSession) {
	ctx, cancel := s.readCtx(context.Background())
	defer cancel()
	var ended bool
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT pg_terminate_backend(a.pid) FROM pg_stat_get_activity($1) a WHERE a.backend_start = $2), false)`, h.pid, h.start).Scan(&ended)
	if err != nil || !ended {
		s.log.Warn("could not end this archiver's previous lock session; trying again", "pid", h.pid, "err", err)
	}
}

// unguard makes st write as a one-off command's store does, unchecked,
// once the archiver lock it took is released (CopyTo).
func (s *Store) unguard() { s.guard.Store(nil) }

// unlockArchiver releases the archiver lock held on conn and closes it.
func (s *Store) unlockArchiver(conn *sql.Conn) error {
	// Discarding the connection ends the session and with it the lock,
	// even if the unlock below fails.
	defer discard(conn)
	uctx, ucancel := s.readCtx(context.Background())
	defer ucancel()
	if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, int64(archiverLockKey)); err != nil {
		return fmt.Errorf("release the archiver lock: %w", err)
	}
	return nil
}

// sqlitePath is the file a SQLite DSN names, or "" for an in-memory one.
// A file: URI's path is read as SQLite reads it: up to its query or
// fragment, after an authority of "" or "localhost", its %HH escapes
// decoded (file:/srv/mx%231/mxarchive.db is /srv/mx#1/mxarchive.db:
// read undecoded, a reader looked for a file of that name and refused
// the archive as missing, and the lock file went beside a directory that
// does not exist).
func sqlitePath(path string) string {
	if !strings.HasPrefix(path, "file:") {
		if path == ":memory:" {
			return ""
		}
		return path
	}
	p, query, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
	p, _, _ = strings.Cut(p, "#")
	if rest, ok := strings.CutPrefix(p, "//"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 && (i == 0 || rest[:i] == "localhost") {
			p = rest[i:]
		}
	}
	if p == ":memory:" || strings.Contains(query, "mode=memory") {
		return ""
	}
	if d, err := url.PathUnescape(p); err == nil {
		p = d
	}
	return p
}
