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
// match within a few rows: a new event's ID matches none, and an import of
// 80k such events took minutes, then failed.
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
	ctx := context.Background()
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "ANALYZE events"); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"$new%d"`, i)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+st.DBForm(store.PostgresProbeSQL), "{"+strings.Join(ids, ",")+"}")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// e is the relations' probe (e_1 the probe of stored events, which a
	// table this small may hash whole).
	text := strings.Join(plan, "\n")
	if regexp.MustCompile(`Seq Scan on events e\s`).MatchString(text) || !regexp.MustCompile(`Index (Only )?Scan using events_rel on events e\s`).MatchString(text) {
		t.Errorf("the probe does not look each ID up in events_rel:\n%s", text)
	}
}
