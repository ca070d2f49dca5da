package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	moderncsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Unavailable reports whether err means the database cannot be reached or
// cannot answer for now (down, restarting, cut off, out of connections,
// locked by another process), as opposed to a query it rejected or data
// that is not there. The web answers the first kind with 503 and a
// Retry-After: the reader should come back, nothing is wrong with the
// request. It looks through wrapping, so callers pass the store's errors
// as they are.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrArchiverLockNotHeld) {
		return true // until the lock is taken again on a new session
	}
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true // refused, no route, unknown host, or a FATAL at login
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "53": // insufficient resources: too many connections, out of memory or disk
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin or crash shutdown, starting up
			return true
		case pgErr.Code == "55000" && pgErr.Severity == "FATAL": // the database does not accept connections
			return true
		}
		return false
	}
	var liteErr interface{ Code() int } // modernc's Error, or liteError (direct.go)
	var modernc *moderncsqlite.Error
	var direct *liteError
	if errors.As(err, &modernc) {
		liteErr = modernc
	} else if errors.As(err, &direct) {
		liteErr = direct
	}
	if liteErr != nil {
		// The primary code is the low byte; extended codes add detail above it.
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR:
			return true
		}
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// A query past its timeout (or a reader gone) says nothing about the
		// database being down, and context's error passes for a net.Error.
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true // the connection broke under a query
	}
	var netErr net.Error
	return errors.As(err, &netErr)
}
