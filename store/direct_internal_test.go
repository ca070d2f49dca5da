package store

import (
	"fmt"
	"math"
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

// pgInt reads PostgreSQL's integers in both formats, to their bounds, and
// refuses what is not one.
func TestPgInt(t *testing.T) {
	for _, c := range []struct {
		v      []byte
		binary bool
		want   int64
		ok     bool
	}{
		{[]byte{0xff, 0xfe}, true, -2, true},
		{[]byte{0x80, 0, 0, 0}, true, math.MinInt32, true},
		{[]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true, math.MaxInt64, true},
		{[]byte{0, 0, 1}, true, 0, false},
		{[]byte("0"), false, 0, true},
		{[]byte("-42"), false, -42, true},
		{[]byte("9223372036854775807"), false, math.MaxInt64, true},
		{[]byte("-9223372036854775808"), false, math.MinInt64, true},
		{[]byte("9223372036854775808"), false, 0, false},
		{[]byte("-9223372036854775809"), false, 0, false},
		{[]byte("99999999999999999999"), false, 0, false},
		{[]byte(""), false, 0, false},
		{[]byte("-"), false, 0, false},
		{[]byte("12a"), false, 0, false},
		{[]byte("+1"), false, 0, false},
	} {
		got, err := pgInt(c.v, c.binary)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("pgInt(%q, binary %v) = %d, %v; want %d, ok %v", c.v, c.binary, got, err, c.want, c.ok)
		}
	}
}
