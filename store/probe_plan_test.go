package store_test

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestProbeGuardsReadTheirIndex: writer.probe's guards, which skip a kind
// whose table is empty, cost a row or two a statement: on SQLite the
// events with a relation are looked for on events_rel, the index of those
// events alone, never by scanning the events table, which holds every
// event of an archive without relations (an IRC one).
func TestProbeGuardsReadTheirIndex(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	plan := queryPlan(t, st, store.SQLiteProbeSQL, `["$a","$b"]`)
	if !strings.Contains(plan, "SCAN g USING COVERING INDEX events_rel") {
		t.Errorf("the guard of the relations' probe does not read events_rel:\n%s", plan)
	}
	for _, line := range strings.Split(plan, "\n") {
		if strings.Contains(line, "SCAN g") && !strings.Contains(line, "INDEX events_rel") {
			t.Errorf("the guard of the relations' probe scans the events table: %s", line)
		}
	}
}
