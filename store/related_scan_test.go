package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedInCostsTheDay: a day's relations cost about the day's events,
// not the day's events times the room's relations, when the planner's
// statistics predate the relations. That is the common case after an
// import of IRC history (no relations at all when it is analyzed) followed
// by live traffic with reactions and thread replies: autovacuum analyzes
// again only after a tenth of the table has changed. PostgreSQL then
// expected one relation in the room, drove the join from events_rel and
// walked the whole day once for each relation it found: with the bench's
// 420 thread replies in a room of 240,000 events, 87,000 buffers and
// 100-330 ms for the relations of one busy day, the slowest first
// requests of the day pages, text logs and JSON days. The blocks of the
// events table and its indexes the read touched are counted by
// PostgreSQL's statistics (pgTableBlocks); PostgreSQL only: SQLite does
// not plan with statistics unless told to (store.AfterBulkWrite is a
// no-op there).
func TestRelatedInCostsTheDay(t *testing.T) {
	ctx := context.Background()
	st := openPostgresOneConn(t)
	// Eleven years of a quiet room, a message a day: the statistics
	// are taken then (pgTableBlocks analyzes).
	evs := baseRoom(t)
	const days, busy = 4000, 300
	for d := range days {
		evs = append(evs, mk(t, fmt.Sprintf("$old%d", d), "m.room.message", "@alice:example.org",
			10*dayMS+int64(d)*dayMS+3600000, nil, `{"msgtype":"m.text","body":"earlier"}`))
	}
	put(t, st, evs...)
	blocks := pgTableBlocks(t, st)
	// Then history arrives that the statistics have not seen: a busy day
	// in the middle of those years, and 200 reactions to other days'
	// messages, and one to the busy day's, which the read must find.
	day := int64(10+days/2) * dayMS
	evs = nil
	for i := range busy {
		evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", day+int64(i)*10000, nil, `{"msgtype":"m.text","body":"today"}`))
	}
	for i := range 200 {
		evs = append(evs, mk(t, fmt.Sprintf("$react%d", i), "m.reaction", "@bob:example.org", day+2*dayMS+int64(i)*1000, nil,
			fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$old%d","key":"👍"}}`, i)))
	}
	evs = append(evs, mk(t, "$reactToday", "m.reaction", "@bob:example.org", day+2*dayMS+500000, nil,
		`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m7","key":"👍"}}`))
	put(t, st, evs...)
	first, last := store.Position{TS: day, NID: -1 << 63}, store.Position{TS: day + dayMS, NID: 1<<63 - 1}
	// Read once first: its statement is planned on the backend, which
	// reads the catalog, not this table.
	if _, err := st.RelatedIn(ctx, room, first, last); err != nil {
		t.Fatal(err)
	}
	before := blocks()
	got, err := st.RelatedIn(ctx, room, first, last)
	if err != nil {
		t.Fatal(err)
	}
	read := blocks() - before
	t.Logf("%d relations, %d blocks of events and its indexes read", len(got), read)
	if len(got) != 1 || got[0].ID != "$reactToday" {
		t.Fatalf("relations of the day = %v, want $reactToday", got)
	}
	// A probe of events_rel per event of the day, and the day itself:
	// 324 blocks when measured. Walking the day's blocks once per
	// relation of the room: 4,056.
	if read > 3*busy+200 {
		t.Errorf("read %d blocks for the relations of a day of %d events: it walked the day once per relation of the room", read, busy)
	}
}
