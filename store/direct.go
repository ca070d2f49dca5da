package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unsafe"

	"maunium.net/go/mautrix/id"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Events are read on SQLite through SQLite's own API, not database/sql's
// (queryEventsSized: a day page's, its relations, events by ID, the
// indexer's runs of the feed). Reading a day of 1,000 events of the 1M
// replay took 5.5-6.9 ms through database/sql, with modernc.org/sqlite or
// with mattn/go-sqlite3 (cgo) alike, and 2.7-3.6 ms through SQLite's API
// on the same modernc build (zombiezen.com/go/sqlite, which calls it so):
// the difference is database/sql's and the driver's work on every column
// of every row (a driver.Value each, boxed, then converted for Scan, and
// the JSON copied twice). The sqlite3 shell reads the same rows in
// 1.2-1.8 ms.
//
// The connection is database/sql's own (Conn.Raw), so the pool, its
// pragmas, busy timeout and the mutex dropped by nomutex.go stay as they
// are; only the statement is prepared (once a connection: directStmts),
// bound, stepped and read here, into scanRow's fields as Scan would
// (columns). connHandle finds the connection's handle, as for
// nomutex.go, and TestModerncIsTheReviewedVersion holds the module to the
// version this was checked against. Where the handle cannot be found the
// rows are read through database/sql as before.

// directStmts are the direct path's prepared statements, per connection
// handle: preparing a day page's query each time cost 0.4 ms, 9% of
// reading the day. database/sql closes connections without telling the
// driver's users, and SQLite's sqlite3_close_v2 (modernc's) leaves a
// connection with unfinalized statements a zombie, its file and page
// cache kept until they are: so each use first sweeps the handles that
// became zombies, finalizing their statements, which frees them; Close
// sweeps once more after closing the pool. A statement is used only by
// the goroutine holding its connection (database/sql lends a connection
// to one at a time).
type directStmts struct {
	mu     sync.Mutex
	byConn map[uintptr]map[string]uintptr
}

// maxDirectStmts is how many statements one connection keeps: some ten
// queries take this path.
const maxDirectStmts = 16

// get is query prepared on db, and whether it is kept (to be reset after
// use, not finalized).
func (c *directStmts) get(tls *libc.TLS, db uintptr, query string) (stmt uintptr, kept bool, err error) {
	c.mu.Lock()
	c.sweepLocked(tls)
	stmt = c.byConn[db][query]
	c.mu.Unlock()
	if stmt != 0 {
		return stmt, true, nil
	}
	if stmt, err = prepare(tls, db, query); err != nil {
		return 0, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byConn == nil {
		c.byConn = map[uintptr]map[string]uintptr{}
	}
	m := c.byConn[db]
	if m == nil {
		m = map[string]uintptr{}
		c.byConn[db] = m
	}
	if len(m) >= maxDirectStmts {
		return stmt, false, nil
	}
	m[query] = stmt
	return stmt, true, nil
}

// sweepLocked finalizes the statements of the connections that were
// closed (zombies): the last one finalized frees the connection. The
// state is read from SQLite's struct, as nomutex.go reads it; a zombie's
// stays readable until then.
func (c *directStmts) sweepLocked(tls *libc.TLS) {
	for db, m := range c.byConn {
		if (*sqlite3.Tsqlite3)(cPointer(db)).FeOpenState != sqlite3.SQLITE_STATE_ZOMBIE {
			continue
		}
		delete(c.byConn, db)
		for _, stmt := range m {
			sqlite3.Xsqlite3_finalize(tls, stmt)
		}
	}
}

// sweep is sweepLocked for Close.
func (c *directStmts) sweep() {
	tls := libc.NewTLS()
	defer tls.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweepLocked(tls)
}

// liteError is an SQLite error met on the direct path: its result code,
// as modernc.org/sqlite's Error has one (Unavailable reads it), and
// SQLite's message.
type liteError struct {
	code int
	msg  string
}

func (e *liteError) Error() string { return fmt.Sprintf("%s (%d)", e.msg, e.code) }

// Code is SQLite's result code, extended codes included.
func (e *liteError) Code() int { return e.code }

// directEvents is queryEventsSized's rows on SQLite, read through
// SQLite's API. direct is false when that was not possible (an argument
// of a type bind does not take, a connection not what connHandle
// expects); the caller then reads them through database/sql.
func (s *Store) directEvents(ctx context.Context, size, maxBytes int, room id.RoomID, query string, args []any) (evs []Event, cut, direct bool, err error) {
	evs, direct, err = s.rawEvents(ctx, args, func(dc any) ([]Event, bool, error) {
		db, err := connHandle(dc)
		if err != nil {
			return nil, false, err
		}
		evs, more, err := stepEvents(ctx, &s.direct, db, size, maxBytes, room, query, args)
		cut = more
		return evs, true, err
	})
	return evs, cut, direct, err
}

// rawEvents is the direct paths' frame: read reads the events on a
// connection of the pool, given as the driver's (Conn.Raw), and says
// whether it could (direct). Where it could not, or an argument is of a
// type the direct paths do not bind, direct is false and the caller reads
// the events through database/sql.
func (s *Store) rawEvents(ctx context.Context, args []any, read func(dc any) ([]Event, bool, error)) (evs []Event, direct bool, err error) {
	if !directArgs(args) {
		return nil, false, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, true, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		var rerr error
		evs, direct, rerr = read(dc)
		return rerr
	})
	if !direct {
		return nil, false, nil
	}
	return evs, true, err
}

// directArgs says whether every argument is of a type both direct paths
// bind as database/sql would.
func directArgs(args []any) bool {
	for _, a := range args {
		switch a.(type) {
		case string, int64, int:
		default:
			return false
		}
	}
	return true
}

// stepEvents runs query with args on the connection db and reads its
// rows into events as scanRow does: rows of publicRoomEventColumns of
// room or, when room is "", of eventColumns; with maxBytes > 0, as
// queryEventsBounded says (cut: a row follows the last read). A done
// ctx interrupts the statement (as modernc does, sqlite3_interrupt from
// another goroutine, with a TLS of its own), and no interrupt outlives
// the call: one that started is waited for.
func stepEvents(ctx context.Context, stmts *directStmts, db uintptr, size, maxBytes int, room id.RoomID, query string, args []any) (out []Event, cut bool, err error) {
	tls := libc.NewTLS()
	defer tls.Close()
	stmt, kept, err := stmts.get(tls, db, query)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if !kept {
			sqlite3.Xsqlite3_finalize(tls, stmt)
			return
		}
		// Kept for the next read, with no row half read. Its arguments
		// stay bound (SQLite's copies) until the next read binds every
		// parameter again: sqlite3_clear_bindings would expire any
		// statement whose plan looked at a parameter, and SQLite would
		// compile it again at the next step (a day page's read and its
		// RelatedIn, every page). modernc's own statements do the same
		// since SQLite 3.54 (gitlab.com/cznic/sqlite issue 264).
		sqlite3.Xsqlite3_reset(tls, stmt)
	}()
	r := newScanRow(room)
	if n := int(sqlite3.Xsqlite3_column_count(tls, stmt)); n != len(r.dest) {
		return nil, false, fmt.Errorf("direct read: the query has %d columns, not %d", n, len(r.dest))
	}
	if err := bind(tls, db, stmt, args); err != nil {
		return nil, false, err
	}
	defer interruptible(ctx, db)(&err)
	out = make([]Event, 0, size)
	var b readBytes
	for {
		switch rc := sqlite3.Xsqlite3_step(tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
		case sqlite3.SQLITE_DONE:
			return out, false, nil
		default:
			return nil, false, liteErr(tls, db, rc)
		}
		if b.full(maxBytes) {
			return out, true, nil
		}
		r.reset()
		if err := r.columns(tls, stmt); err != nil {
			return nil, false, err
		}
		out = append(out, Event{})
		if err := r.fill(&out[len(out)-1]); err != nil {
			return nil, false, err
		}
		b.add(&out[len(out)-1])
	}
}

// interruptible interrupts the statement running on db when ctx is done
// (as modernc does, sqlite3_interrupt from another goroutine, with a TLS
// of its own) until the function it returns is called. That waits for an
// interrupt that started, so none outlives the read, and names ctx's
// error in *err.
func interruptible(ctx context.Context, db uintptr) func(err *error) {
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		t := libc.NewTLS()
		sqlite3.Xsqlite3_interrupt(t, db)
		t.Close()
		close(interrupted)
	})
	return func(err *error) {
		if !stop() {
			<-interrupted
			if ctx.Err() != nil && *err != nil {
				*err = fmt.Errorf("%w (%w)", ctx.Err(), *err)
			}
		}
	}
}

// directProbes runs query on SQLite's API once for each of args, one
// after another on one connection of the pool, and gives read the first
// column of each run's first row (in SQLite's memory: read copies what it
// keeps); a run with no row is skipped. direct is false where the rows
// could not be read so (as rawEvents says); the caller then reads them
// through database/sql.
func (s *Store) directProbes(ctx context.Context, query string, args [][]any, read func(i int, col []byte)) (direct bool, err error) {
	for _, a := range args {
		if !directArgs(a) {
			return false, nil
		}
	}
	_, direct, err = s.rawEvents(ctx, nil, func(dc any) ([]Event, bool, error) {
		db, err := connHandle(dc)
		if err != nil {
			return nil, false, err
		}
		return nil, true, stepProbes(ctx, &s.direct, db, query, args, read)
	})
	if direct {
		s.directReads.Add(1)
	}
	return direct, err
}

// stepProbes is directProbes on the connection db.
func stepProbes(ctx context.Context, stmts *directStmts, db uintptr, query string, args [][]any, read func(i int, col []byte)) (err error) {
	tls := libc.NewTLS()
	defer tls.Close()
	stmt, kept, err := stmts.get(tls, db, query)
	if err != nil {
		return err
	}
	release := func() {
		if !kept {
			sqlite3.Xsqlite3_finalize(tls, stmt)
		} else {
			sqlite3.Xsqlite3_reset(tls, stmt) // as stepEvents leaves it
		}
	}
	// One read transaction for all the runs: each run would otherwise be
	// one of its own, and taking and releasing WAL's read lock (fcntl on
	// the shared memory, twice a run) cost more than the lookups.
	if err := execLite(tls, db, "BEGIN"); err != nil {
		release()
		return err
	}
	defer func() {
		release() // before the transaction ends: no statement left running in it
		if cerr := endRead(tls, db); cerr != nil && err == nil {
			err = cerr
		}
	}()
	defer interruptible(ctx, db)(&err)
	for i, a := range args {
		// An interrupt between two runs is lost (SQLite clears it when a
		// statement starts with none running), so the context is also
		// asked before each.
		if err := ctx.Err(); err != nil {
			return err
		}
		// A run that stopped at its first row (LIMIT 1) is not done.
		sqlite3.Xsqlite3_reset(tls, stmt)
		if err := bind(tls, db, stmt, a); err != nil {
			return err
		}
		switch rc := sqlite3.Xsqlite3_step(tls, stmt); rc {
		case sqlite3.SQLITE_ROW:
			read(i, cBytes(sqlite3.Xsqlite3_column_text(tls, stmt, 0), sqlite3.Xsqlite3_column_bytes(tls, stmt, 0)))
		case sqlite3.SQLITE_DONE:
		default:
			return liteErr(tls, db, rc)
		}
	}
	return nil
}

// execLite runs query, which returns no rows, on db.
func execLite(tls *libc.TLS, db uintptr, query string) error {
	zSQL, err := libc.CString(query)
	if err != nil {
		return err
	}
	defer libc.Xfree(tls, zSQL)
	if rc := sqlite3.Xsqlite3_exec(tls, db, zSQL, 0, 0, 0); rc != sqlite3.SQLITE_OK {
		return liteErr(tls, db, rc)
	}
	return nil
}

// endRead ends the read transaction stepProbes began on db. A connection
// left in a transaction goes back to the pool with its snapshot held and
// no write possible on it, so one that cannot end it is given up
// (driver.ErrBadConn: database/sql closes it).
func endRead(tls *libc.TLS, db uintptr) error {
	err := execLite(tls, db, "COMMIT")
	if sqlite3.Xsqlite3_get_autocommit(tls, db) != 0 {
		return err
	}
	if rerr := execLite(tls, db, "ROLLBACK"); rerr == nil && sqlite3.Xsqlite3_get_autocommit(tls, db) != 0 {
		return err
	}
	return fmt.Errorf("direct read: its transaction did not end (%v): %w", err, driver.ErrBadConn)
}

// prepare compiles query on db (sqliteForm).
func prepare(tls *libc.TLS, db uintptr, query string) (uintptr, error) {
	zSQL, err := libc.CString(sqliteForm(query))
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(tls, zSQL)
	pp := libc.Xmalloc(tls, 8)
	if pp == 0 {
		return 0, errors.New("direct read: out of memory")
	}
	defer libc.Xfree(tls, pp)
	if rc := sqlite3.Xsqlite3_prepare_v2(tls, db, zSQL, -1, pp, 0); rc != sqlite3.SQLITE_OK {
		return 0, liteErr(tls, db, rc)
	}
	return *(*uintptr)(cPointer(pp)), nil
}

// bind binds args to stmt's parameters, which are numbered ($1 is
// args[0]), as modernc's driver binds them. Strings are copied by SQLite
// (SQLITE_TRANSIENT).
func bind(tls *libc.TLS, db, stmt uintptr, args []any) error {
	n := int(sqlite3.Xsqlite3_bind_parameter_count(tls, stmt))
	for i := 1; i <= n; i++ {
		name := libc.GoString(sqlite3.Xsqlite3_bind_parameter_name(tls, stmt, int32(i)))
		k, err := strconv.Atoi(name[min(len(name), 1):])
		if len(name) < 2 || (name[0] != '$' && name[0] != '?') || err != nil || k < 1 || k > len(args) {
			return fmt.Errorf("direct read: parameter %d (%q) of %d arguments", i, name, len(args))
		}
		var rc int32
		switch v := args[k-1].(type) {
		case string:
			p, err := libc.CString(v)
			if err != nil {
				return err
			}
			rc = sqlite3.Xsqlite3_bind_text(tls, stmt, int32(i), p, int32(len(v)), ^uintptr(0)) // SQLITE_TRANSIENT
			libc.Xfree(tls, p)
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(tls, stmt, int32(i), v)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(tls, stmt, int32(i), int64(v))
		default:
			return fmt.Errorf("direct read: argument $%d is a %T", k, v)
		}
		if rc != sqlite3.SQLITE_OK {
			return liteErr(tls, db, rc)
		}
	}
	return nil
}

// columns reads the row stmt is at into r.dest as database/sql's Scan
// would: an integer as int64, 0 or 1 as a bool, text as a string (NULL
// only into a sql.NullString), a blob or text as bytes of their own.
//
// Each string is a copy of its own, as Scan's are, or the previous row's
// where it is the same (a room, a type, a run of one sender's lines): the
// strings of a row in one allocation would keep all of them alive as long
// as any one is kept (an event's ID in a map, say).
func (r *scanRow) columns(tls *libc.TLS, stmt uintptr) error {
	text := func(i int, prev string) string {
		return stringOf(cBytes(sqlite3.Xsqlite3_column_text(tls, stmt, int32(i)), sqlite3.Xsqlite3_column_bytes(tls, stmt, int32(i))), prev)
	}
	for i, d := range r.dest {
		if sqlite3.Xsqlite3_column_type(tls, stmt, int32(i)) == sqlite3.SQLITE_NULL {
			if ns, ok := d.(*sql.NullString); ok {
				*ns = sql.NullString{}
				continue
			}
			return fmt.Errorf("direct read: column %d is NULL", i)
		}
		switch d := d.(type) {
		case *int64:
			*d = sqlite3.Xsqlite3_column_int64(tls, stmt, int32(i))
		case *bool:
			switch v := sqlite3.Xsqlite3_column_int64(tls, stmt, int32(i)); v {
			case 0, 1:
				*d = v == 1
			default:
				return fmt.Errorf("direct read: column %d is %d, not a bool", i, v)
			}
		case *string:
			*d = text(i, *d)
		case *sql.NullString:
			*d = sql.NullString{String: text(i, d.String), Valid: true}
		case *[]byte:
			p := sqlite3.Xsqlite3_column_blob(tls, stmt, int32(i))
			*d = append([]byte(nil), cBytes(p, sqlite3.Xsqlite3_column_bytes(tls, stmt, int32(i)))...)
		default:
			return fmt.Errorf("direct read: column %d into a %T", i, d)
		}
	}
	return nil
}

// stringOf is b as a string of its own, or prev where they are equal: the
// direct paths' rows share a column's string with the row before.
func stringOf(b []byte, prev string) string {
	if string(b) == prev {
		return prev
	}
	return string(b)
}

// cBytes is the n bytes at p in SQLite's memory (not Go's: the caller
// copies them before SQLite moves on).
func cBytes(p uintptr, n int32) []byte {
	if p == 0 || n <= 0 {
		return nil
	}
	return unsafe.Slice((*byte)(cPointer(p)), n)
}

// cPointer is p, an address in SQLite's memory, as a pointer (vet takes a
// uintptr turned into a pointer for a Go pointer gone astray).
func cPointer(p uintptr) unsafe.Pointer { return unsafe.Add(unsafe.Pointer(nil), p) }

// liteErr is rc as an error, with SQLite's message for db.
func liteErr(tls *libc.TLS, db uintptr, rc int32) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errstr(tls, rc))
	if ext := sqlite3.Xsqlite3_extended_errcode(tls, db); ext == rc || ext&0xff == rc&0xff {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(tls, db))
	}
	return &liteError{code: int(rc), msg: msg}
}
