package store

import (
	"fmt"
	"strings"
	"testing"
)

// TestInListPadded: an IN list takes one of ten lengths whatever the
// number of IDs (so the query's text, and its prepared statement,
// repeats), and holds every ID, padded with the last.
func TestInListPadded(t *testing.T) {
	forms := map[int]bool{}
	for n := 1; n <= maxIDsPerQuery; n++ {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("$e%d", i)
		}
		ph, args := inListPadded(ids)
		if got := strings.Count(ph, "$"); got != len(args) || !strings.HasSuffix(ph, fmt.Sprintf("$%d", len(args))) {
			t.Fatalf("%d IDs: %d placeholders for %d arguments: %.80s…", n, got, len(args), ph)
		}
		forms[len(args)] = true
		for i, a := range args {
			if want := ids[min(i, n-1)]; a != want {
				t.Fatalf("%d IDs: argument %d is %v, want %s", n, i, a, want)
			}
		}
	}
	if len(forms) != 10 {
		t.Errorf("IN lists of 1 to %d IDs take %d lengths, want 10", maxIDsPerQuery, len(forms))
	}
}

// TestRowsInsertSQLite: each of a multi-row insert's statements has the
// rows it is for, of positional parameters only.
func TestRowsInsertSQLite(t *testing.T) {
	for _, ins := range []rowsInsert{insertEventsSQLite, insertChangesSQLite} {
		if len(ins.texts) != len(sqliteRowsPerInsert) || sqliteRowsPerInsert[len(sqliteRowsPerInsert)-1] != 1 {
			t.Fatalf("%d statements for %v rows", len(ins.texts), sqliteRowsPerInsert)
		}
		for i, q := range ins.texts {
			if strings.Contains(q, "$") || strings.Count(q, "?") != sqliteRowsPerInsert[i]*ins.width {
				t.Errorf("%d rows of %d: %s", sqliteRowsPerInsert[i], ins.width, q)
			}
		}
	}
}
