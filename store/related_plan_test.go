package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedInIsIndexProbes: RelatedIn walks the day's related events
// on events_related and finds each one's relations on events_rel, probed
// with the event's ID, on both databases (queryPlan): a day page's
// relations cost the day's related events, not the room
// (TestRelatedInCostsTheDay), nor a probe for each of the day's events.
func TestRelatedInIsIndexProbes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.RelatedInSQL(st), "!x:example.org", int64(1000), int64(0), int64(2000), int64(9))
		day, rel := strings.Index(plan, "events_related"), strings.Index(plan, "events_rel ")
		if day < 0 || rel < 0 {
			t.Fatalf("RelatedIn does not use events_related and events_rel:\n%s", plan)
		}
		// Both list a join's outer loop first. Probed with each event's
		// ID: PostgreSQL shows the probe's condition, SQLite the column.
		if rel < day {
			t.Errorf("RelatedIn walks the relations before the day:\n%s", plan)
		}
		probe := regexp.MustCompile(`Index Cond: \(rel_target = \w+\.event_id\)`)
		if st.Dialect() == "sqlite" {
			probe = regexp.MustCompile(`events_rel \(rel_target=\?`)
		}
		if !probe.MatchString(plan) {
			t.Errorf("RelatedIn does not probe events_rel with each event of the day (%s):\n%s", probe, plan)
		}
	})
}

// queryPlan is the database's plan for query with args, one line per row
// of EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (PostgreSQL, told to avoid
// sequential scans: on tables this small it would prefer one anyway; the
// test is whether the indexes can answer).
func queryPlan(t *testing.T, st *store.Store, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := "EXPLAIN QUERY PLAN " + query
	if st.Dialect() == "postgres" {
		if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		q = "EXPLAIN " + query
	}
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&plan, vals...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("plan:\n%s", plan.String())
	return plan.String()
}

// TestReadStateProbesRooms: the rooms that name a room as their successor
// (the imported predecessor every page's read state asks for) are found
// on rooms_successor, not by reading every room: an archive of 1,600
// rooms spent half of a cached page's time there.
func TestReadStateProbesRooms(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for _, q := range []string{store.RoomReadSQL, store.ReadStateSQL} {
			plan := queryPlan(t, st, q, "!x:example.org")
			if !strings.Contains(plan, "rooms_successor") || regexp.MustCompile(`SCAN rooms\b`).MatchString(plan) {
				t.Errorf("the predecessor is not found on rooms_successor:\n%s", plan)
			}
		}
	})
}
