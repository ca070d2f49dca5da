package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestVisibleRefProbesTheEvents: archive-web's PostgreSQL sessions plan
// MediaFor's query once for any arguments (plan_cache_mode
// force_generic_plan), and that plan must look each reference's event up
// by its ID, not scan the events table for them: it hashed the references
// and scanned the table, which for a file posted lately is all of it
// (131 ms a request at 60,000 events, up to 20 times a request).
func TestVisibleRefProbesTheEvents(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: pgtest.NewDatabase(t)}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put(t, st, baseRoom(t)...)
	const n = 20000
	batch := make([]store.Event, 0, 2000)
	for i := range n {
		if i%5 == 0 {
			batch = append(batch, mediaMsg(t, fmt.Sprintf("$p%d", i), "@bob:example.org", int64(3000+i), "m.image", "mxc://example.org/popular", ""))
		} else {
			batch = append(batch, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@bob:example.org", int64(3000+i), nil, `{"msgtype":"m.text","body":"hello"}`))
		}
		if len(batch) == cap(batch) {
			put(t, st, batch...)
			batch = batch[:0]
		}
	}
	// The file posted last: the events table's end.
	put(t, st, mediaMsg(t, "$late", "@alice:example.org", 3000+n, "m.image", "mxc://example.org/late", ""))
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"ANALYZE", "SET plan_cache_mode = force_generic_plan", "PREPARE visible AS " + store.VisibleRefPostgres} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, media := range []string{"late", "popular"} {
		plan := analyzedPlan(t, conn, "BUFFERS", fmt.Sprintf("EXECUTE visible('example.org', '%s', '%s', 0)", media, room))
		if strings.Contains(plan, "Seq Scan on events") || !strings.Contains(plan, "events_idkey") {
			t.Errorf("the generic plan for a file %s does not look its references' events up by ID:\n%s", media, plan)
		}
	}
}
