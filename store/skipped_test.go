package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestSkippedRowFailsTheBatch: on SQLite a batch's events are written
// with INSERT OR IGNORE and counted, not read back; a row SQLite skipped
// (here a trigger's RAISE(IGNORE), which skips a row without an error)
// must fail the batch, with nothing of it stored or in the feed, not be
// counted as stored.
func TestSkippedRowFailsTheBatch(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	db, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER test_skipped BEFORE INSERT ON events WHEN NEW.event_id = '$skipped'
		BEGIN SELECT RAISE(IGNORE); END`); err != nil {
		t.Fatal(err)
	}
	base := baseRoom(t)
	put(t, st, base...)
	before, err := st.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	batch := []store.Event{
		mk(t, "$kept", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"kept"}`),
		mk(t, "$skipped", "m.room.message", "@alice:example.org", 2001, nil, `{"msgtype":"m.text","body":"skipped"}`),
	}
	res, err := st.PutEvents(ctx, batch)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 rows stored") {
		t.Fatalf("PutEvents = %+v, %v; want the batch failed with 1 of 2 rows stored", res, err)
	}
	batchLeftNothing(t, st, len(base), before)
	// Without the skip, the same batch is stored whole.
	if _, err := db.ExecContext(ctx, `DROP TRIGGER test_skipped`); err != nil {
		t.Fatal(err)
	}
	if res := put(t, st, batch...); res.Stored != 2 {
		t.Errorf("PutEvents without the trigger = %+v, want 2 stored", res)
	}
}

// batchLeftNothing checks that a failed batch left the archive as it was:
// events events stored, the feed as before.
func batchLeftNothing(t *testing.T, st *store.Store, events int, before []store.Change) {
	t.Helper()
	ctx := context.Background()
	n, err := st.CountEvents(ctx)
	if err != nil || n != int64(events) {
		t.Errorf("CountEvents = %d, %v; want %d (the batch rolled back)", n, err, events)
	}
	after, err := st.Changes(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("the failed batch appended %d changes", len(after)-len(before))
	}
}
