package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedInIsIndexProbes: RelatedIn walks the day's events on
// events_room_ts and finds each one's relations on events_rel, on both
// databases (queryPlan): a day page's relations cost the day, not the
// room.
func TestRelatedInIsIndexProbes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.RelatedInSQL, "!x:example.org", int64(1000), int64(0), int64(2000), int64(9))
		for _, index := range []string{"events_room_ts", "events_rel"} {
			if !strings.Contains(plan, index) {
				t.Errorf("RelatedIn does not use %s:\n%s", index, plan)
			}
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
