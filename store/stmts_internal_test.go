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

// valuesRows writes the rows insertMany's statements had when each
// parameter was made with fmt.Sprintf.
func TestValuesRowsAsSprintf(t *testing.T) {
	for _, c := range [][2]int{{1, 1}, {1, 14}, {2, 2}, {3, 5}, {500, 14}, {2000, 5}} {
		n, width := c[0], c[1]
		rows := make([]string, n)
		for i := range n {
			ph := make([]string, width)
			for j := range width {
				ph[j] = fmt.Sprintf("$%d", i*width+j+1)
			}
			rows[i] = "(" + strings.Join(ph, ", ") + ")"
		}
		if want, got := strings.Join(rows, ", "), valuesRows(n, width); got != want {
			t.Errorf("valuesRows(%d, %d) = %.80q…, want %.80q…", n, width, got, want)
		}
	}
	if got := valuesRows(2, 2); got != "($1, $2), ($3, $4)" {
		t.Errorf("valuesRows(2, 2) = %q", got)
	}
}
