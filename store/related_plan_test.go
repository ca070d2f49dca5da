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
// databases: a day page's relations cost the day, not the room.
// (PostgreSQL is told to avoid sequential scans, as in
// TestRoomHeadIsAnIndexProbe: the test is whether the indexes can answer.)
func TestRelatedInIsIndexProbes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		q := "EXPLAIN QUERY PLAN " + store.RelatedInSQL
		if st.Dialect() == "postgres" {
			if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
				t.Fatal(err)
			}
			q = "EXPLAIN " + store.RelatedInSQL
		}
		rows, err := conn.QueryContext(ctx, q, "!x:example.org", int64(1000), int64(0), int64(2000), int64(9))
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
		for _, index := range []string{"events_room_ts", "events_rel"} {
			if !strings.Contains(plan.String(), index) {
				t.Errorf("RelatedIn does not use %s:\n%s", index, plan.String())
			}
		}
	})
}
