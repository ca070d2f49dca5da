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

// TestPositional: a statement's $1 to $n become "?" only when each comes
// once and in order outside quoted text, which is when SQLite binds "?"
// by place to the same arguments.
func TestPositional(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`VALUES ($1, $2, $3)`, `VALUES (?, ?, ?)`, true},
		{`WHERE a = $1 AND b LIKE '$2%' AND c = $2`, `WHERE a = ? AND b LIKE '$2%' AND c = ?`, true},
		{`json_extract(raw, '$.content') = $1`, `json_extract(raw, '$.content') = ?`, true},
		{`VALUES ($2, $1)`, ``, false},
		{`WHERE a = $1 OR b = $1`, ``, false},
		{`WHERE a = $1 AND b = $3`, ``, false},
		{`WHERE a = $10`, ``, false},
		{`WHERE a = $`, ``, false},
		{`SELECT 1`, ``, false},
		{`WHERE a = $1 AND b = 'open`, ``, false},
	} {
		got, ok := positional(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("positional(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, q := range []string{insertEventSQLite, insertChangeSQLite} {
		if strings.Contains(q, "$") || strings.Count(q, "?") < 5 {
			t.Errorf("not positional: %s", q)
		}
	}
	if got, _ := positional(insertEventSQL); strings.Count(got, "?") != 14 {
		t.Errorf("insertEventSQL has %d positional parameters, want 14", strings.Count(got, "?"))
	}
	for _, c := range []struct {
		d    dialect
		want string
	}{{sqlite, "?,?,?"}, {postgres, "$1,$2,$3"}} {
		ph, args := inList(c.d, []string{"a", "b", "c"})
		if ph != c.want || len(args) != 3 || args[2] != "c" {
			t.Errorf("inList(%v) = %q, %v", c.d, ph, args)
		}
	}
}
