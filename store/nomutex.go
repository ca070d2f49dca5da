package store

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"modernc.org/libc"
	moderncsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// modernc.org/sqlite opens every connection SQLITE_OPEN_FULLMUTEX (it has
// no option for another mode): each call into SQLite on it takes the
// connection's mutex, and reading a column takes it twice
// (sqlite3_column_* and its columnMallocFailure). modernc's mutexes are
// emulated in Go, and a day page's 1,000 rows of nine columns spent a sixth
// of their read there: 5.9 → 4.9 ms a day with the mutex gone (300 days of
// 1,000 events of the 1M replay, read with DayPage, five passes).
//
// The mutex is what SQLite's serialized mode uses to let two threads use
// one connection at once. database/sql never does: it hands a connection to
// one goroutine at a time, and holds its own lock around every call on it
// (driverConn's), which is why mattn/go-sqlite3 offers _mutex=no. The one
// call made from another goroutine, sqlite3_interrupt when a context ends,
// takes no mutex. So each connection, once opened, is put in multi-thread
// mode (SQLITE_OPEN_NOMUTEX's): its mutex is freed and its handle left
// without one, which SQLite's mutex calls take as none. The hook is the
// driver's, so it applies to every "sqlite" connection of a process that
// links this package (archive-bench's FTS5 peer too).

// dropConnMutex takes the mutex off the connection c, which
// modernc.org/sqlite has just opened. It changes nothing and says why when
// c is not what it expects (connHandle). TestModerncIsTheReviewedVersion
// holds the module to the version this was checked against.
func dropConnMutex(c any) error {
	db, err := connHandle(c)
	if err != nil {
		return err
	}
	// The handle is SQLite's struct sqlite3 in modernc's C memory, as
	// modernc's own code reads it (Xsqlite3_db_mutex).
	h := (*sqlite3.Tsqlite3)(unsafe.Add(unsafe.Pointer(nil), db))
	if h.FeOpenState != sqlite3.SQLITE_STATE_OPEN {
		return fmt.Errorf("connection handle is not open (state %#x)", h.FeOpenState)
	}
	tls := libc.NewTLS()
	defer tls.Close()
	m := sqlite3.Xsqlite3_db_mutex(tls, db)
	if m == 0 {
		return nil
	}
	// Nothing holds the mutex between calls, and SQLite reads it afresh
	// from the handle each time, taking 0 as none (close too).
	h.Fmutex = 0
	sqlite3.Xsqlite3_mutex_free(tls, m)
	return nil
}

// connHandle is the sqlite3 handle of c, which must be modernc's conn:
// its db field.
func connHandle(c any) (uintptr, error) {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return 0, fmt.Errorf("connection is a %T, not a pointer to a struct", c)
	}
	if t := v.Elem().Type(); t.PkgPath() != "modernc.org/sqlite" || t.Name() != "conn" {
		return 0, fmt.Errorf("connection is a %T, not modernc.org/sqlite's conn", c)
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return 0, fmt.Errorf("connection %T has no db handle field", c)
	}
	db := *(*uintptr)(unsafe.Pointer(f.UnsafeAddr()))
	if db == 0 {
		return 0, errors.New("connection has no handle")
	}
	return db, nil
}

// connMutexErr is what dropping a connection's mutex first failed with,
// if it ever did: the connection then keeps it (slower, as safe), and Open
// logs it. Every connection is the same type of the same module, so the
// connection Open pings first is where a failure shows.
var (
	connMutexMu  sync.Mutex
	connMutexErr error
)

// The hook is registered before any connection can be opened: modernc
// reads its hooks without a lock.
func init() {
	moderncsqlite.RegisterConnectionHook(func(c moderncsqlite.ExecQuerierContext, _ string) error {
		if err := dropConnMutex(c); err != nil {
			connMutexMu.Lock()
			if connMutexErr == nil {
				connMutexErr = err
			}
			connMutexMu.Unlock()
		}
		return nil
	})
}

// connMutexFailure is why a connection kept its mutex, if one did.
func connMutexFailure() error {
	connMutexMu.Lock()
	defer connMutexMu.Unlock()
	return connMutexErr
}
