package store

import (
	"fmt"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

// An SQLite error met on the direct path (direct.go) is judged as
// modernc's own: busy, locked, unopenable or failing I/O is the database
// unavailable, anything else is not.
func TestUnavailableReadsDirectErrors(t *testing.T) {
	for _, c := range []struct {
		code int
		want bool
	}{
		{sqlite3.SQLITE_BUSY, true},
		{sqlite3.SQLITE_BUSY_SNAPSHOT, true},
		{sqlite3.SQLITE_LOCKED, true},
		{sqlite3.SQLITE_CANTOPEN, true},
		{sqlite3.SQLITE_IOERR_READ, true},
		{sqlite3.SQLITE_INTERRUPT, false},
		{sqlite3.SQLITE_CORRUPT, false},
		{sqlite3.SQLITE_ERROR, false},
	} {
		err := fmt.Errorf("day page of !r:example.org: %w", &liteError{code: c.code, msg: "some message"})
		if got := Unavailable(err); got != c.want {
			t.Errorf("code %d: Unavailable = %v, want %v", c.code, got, c.want)
		}
	}
}
