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

// TestProbeOfSkewedRelationsReadsItsIndex: once PostgreSQL's statistics
// say the archive's relations name a few events (a hostile room's tens of
// thousands of reactions to four messages), the writer's probe still
// looks each ID up in events_rel. Planned from those statistics, it
// scanned the events table for each ID of a batch instead, expecting a
// match within a few rows (a new event's ID matches none: an import of
// 80k such events took minutes, then failed), or, on a smaller table,
// read all the relations once a batch to hash them.
func TestProbeOfSkewedRelationsReadsItsIndex(t *testing.T) {
	st := storetest.Open(t, "postgres")
	put(t, st, baseRoom(t)...)
	var evs []store.Event
	for i := range 4 {
		evs = append(evs, mk(t, fmt.Sprintf("$target%d", i), "m.room.message", "@alice:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"hi"}`))
	}
	for i := range 6000 {
		evs = append(evs, mk(t, fmt.Sprintf("$r%d", i), "m.reaction", "@alice:example.org", int64(3000+i), nil,
			fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$target%d","key":"%d"}}`, i%4, i)))
	}
	for i := range 2000 {
		evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", int64(10000+i), nil, `{"msgtype":"m.text","body":"plain"}`))
	}
	put(t, st, evs...)
	// An import analyzes what it wrote.
	if err := st.AfterBulkWrite(context.Background()); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"$new%d"`, i)
	}
	text := planOf(t, st, false, store.PostgresProbeSQL, "{"+strings.Join(ids, ",")+"}")
	// e is the relations' probe (e_1 the probe of stored events, which a
	// table this small may hash whole): neither a scan of the table nor
	// one of the whole index, hashed once a batch, but a lookup of each ID.
	lookup := regexp.MustCompile(`Index (Only )?Scan using events_rel on events e\s[^\n]*\n\s+Index Cond: \(rel_target = ids\.value\)`)
	if regexp.MustCompile(`Seq Scan on events e\s`).MatchString(text) || !lookup.MatchString(text) {
		t.Errorf("the probe does not look each ID up in events_rel:\n%s", text)
	}
}
