package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestDayPageReadsOnlyItsDay: a day page read from the day's start (the
// zero position, as every first page, text log and JSON day is read)
// walks the day's stretch of events_room_ts, not the room's history
// before it. PostgreSQL started its index scan at the row-value bound
// "(origin_ts, nid) > (0, 0)" rather than at origin_ts's, so a late day
// of an old room cost every earlier event of the room: 20 ms, not 1, for
// a busy day of a 1M-message replay. The index blocks the read touched
// are counted by PostgreSQL's statistics, which a backend
// publishes when told to (pg_stat_force_next_flush); the store is given
// one connection, so its reads and the count share the backend. SQLite
// starts at origin_ts's bound and has no such count: PostgreSQL only.
func TestDayPageReadsOnlyItsDay(t *testing.T) {
	ctx := context.Background()
	st := openPostgresOneConn(t)
	// 200 days of 40 messages, then the day read: 12 messages.
	evs := baseRoom(t)
	const days, perDay = 200, 40
	for d := range days {
		for i := range perDay {
			evs = append(evs, mk(t, fmt.Sprintf("$old%d_%d", d, i), "m.room.message", "@alice:example.org",
				10*dayMS+int64(d)*dayMS+int64(i)*60000, nil, `{"msgtype":"m.text","body":"earlier"}`))
		}
	}
	last := int64(10+days) * dayMS
	for i := range 12 {
		evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", last+int64(i)*60000, nil, `{"msgtype":"m.text","body":"today"}`))
	}
	put(t, st, evs...)
	indexBlocks := pgIndexBlocks(t, st)
	for _, c := range []struct {
		name  string
		limit int
	}{{"day page", 500}, {"whole day", store.MaxDayEvents}} {
		// Read once first: its statement is prepared, and planned, on
		// the backend, which reads the catalog's indexes, not this one.
		if _, _, err := st.DayPage(ctx, room, last, last+dayMS, store.Position{}, c.limit, 0); err != nil {
			t.Fatal(err)
		}
		before := indexBlocks()
		got, _, err := st.DayPage(ctx, room, last, last+dayMS, store.Position{}, c.limit, 0)
		if err != nil {
			t.Fatal(err)
		}
		read := indexBlocks() - before
		t.Logf("%s: %d events, %d index blocks read", c.name, len(got), read)
		if len(got) != 12 {
			t.Errorf("%s: %d events, want the day's 12", c.name, len(got))
		}
		// The day is in one leaf, reached from the root: a few blocks.
		// The room's 8,000 earlier entries fill some 60 leaves. Two of
		// the blocks are the planner's, the metapages of the empty
		// events_votes and events_polls (TestPreviousStateReadsFewEntries).
		if read > 9 {
			t.Errorf("%s: read %d index blocks for a day of 12 events: it walked the room's history before the day", c.name, read)
		}
	}
	// A permalink's place on its day reads the day alone too.
	pos := store.Position{TS: last + 11*60000, NID: 1 << 40}
	if _, err := st.OnFirstDayPage(ctx, room, last, pos, 500, 0); err != nil {
		t.Fatal(err)
	}
	before := indexBlocks()
	first, err := st.OnFirstDayPage(ctx, room, last, pos, 500, 0)
	if read := indexBlocks() - before; err != nil || !first || read > 9 {
		t.Errorf("OnFirstDayPage: %v, %v, %d index blocks read for a day of 12 events", first, err, read)
	}
}

// pgIndexBlocks returns a count of the blocks of the events table's
// indexes that st's PostgreSQL backend has read so far, its own reads published first
// (pg_stat_force_next_flush): st must have one connection, so that its
// reads and the count share the backend. The events are analyzed first,
// as an import leaves them.
func pgIndexBlocks(t *testing.T, st *store.Store) func() int64 {
	t.Helper()
	return pgBlocks(t, st, "COALESCE(idx_blks_read, 0) + COALESCE(idx_blks_hit, 0)")
}

// pgTableBlocks is pgIndexBlocks counting the blocks of the events table
// too, not only of its indexes.
func pgTableBlocks(t *testing.T, st *store.Store) func() int64 {
	t.Helper()
	return pgBlocks(t, st, "COALESCE(idx_blks_read, 0) + COALESCE(idx_blks_hit, 0) + COALESCE(heap_blks_read, 0) + COALESCE(heap_blks_hit, 0)")
}

// pgBlocks is pgIndexBlocks and pgTableBlocks: count is the sum of
// pg_statio_user_tables' columns to return.
func pgBlocks(t *testing.T, st *store.Store, count string) func() int64 {
	t.Helper()
	ctx := context.Background()
	exec := func(query string, dest ...any) {
		t.Helper()
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if len(dest) == 0 {
			_, err = conn.ExecContext(ctx, query)
		} else {
			err = conn.QueryRowContext(ctx, query).Scan(dest...)
		}
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	exec("ANALYZE events")
	return func() int64 {
		t.Helper()
		exec("SELECT pg_stat_force_next_flush()")
		exec("SELECT pg_stat_clear_snapshot()")
		var n int64
		exec(`SELECT `+count+` FROM pg_statio_user_tables WHERE relname = 'events'`, &n)
		return n
	}
}

// openPostgresOneConn opens a store on a fresh PostgreSQL database with one
// connection (pgIndexBlocks).
func openPostgresOneConn(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: pgtest.NewDatabase(t), MaxOpenConns: 1}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
