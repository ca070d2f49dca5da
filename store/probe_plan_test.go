package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

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
	// Not a covering index since migration 026: the guard's NOT redacted,
	// which lets SQLite use the partial index, is read from the row of the
	// entry it finds first.
	if !regexp.MustCompile(`SCAN g (EXISTS )?USING INDEX events_rel`).MatchString(plan) {
		t.Errorf("the guard of the relations' probe does not read events_rel:\n%s", plan)
	}
	for _, line := range strings.Split(plan, "\n") {
		if strings.Contains(line, "SCAN g") && !strings.Contains(line, "INDEX events_rel") {
			t.Errorf("the guard of the relations' probe scans the events table: %s", line)
		}
	}
}

// TestRelatedProbeReadsItsIndex: on SQLite, Related narrows its list to
// the targets with a relation by a probe of events_rel for each (an
// archive with no relation reads nothing else), never a scan of the
// events, and still finds a relation once the archive has one.
func TestRelatedProbeReadsItsIndex(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	query, args := store.SQLiteRelatedQuery()
	plan := queryPlan(t, st, query, args...)
	if !strings.Contains(plan, "SEARCH x EXISTS USING INDEX events_rel (rel_target=?)") {
		t.Errorf("Related does not probe events_rel for its targets:\n%s", plan)
	}
	if regexp.MustCompile(`(?m)SCAN (events|e|t|x|r|g)$`).MatchString(plan) {
		t.Errorf("Related scans the events table:\n%s", plan)
	}

	ctx := context.Background()
	put(t, st, baseRoom(t)...)
	msg := mk(t, "$target", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`)
	put(t, st, msg)
	if rel, err := st.Related(ctx, []id.EventID{msg.ID}); err != nil || len(rel) != 0 {
		t.Fatalf("Related with no relation in the archive = %v, %v; want none", rel, err)
	}
	put(t, st, mk(t, "$reaction", "m.reaction", "@alice:example.org", 2001, nil,
		`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$target","key":"👍"}}`))
	rel, err := st.Related(ctx, []id.EventID{msg.ID})
	if err != nil || len(rel) != 1 || rel[0].ID != "$reaction" {
		t.Errorf("Related once the archive has a reaction = %v, %v; want $reaction", rel, err)
	}
	// Every relation once, however many the archive holds.
	other := mk(t, "$other", "m.room.message", "@alice:example.org", 2002, nil, `{"msgtype":"m.text","body":"ho"}`)
	put(t, st, other)
	for i, target := range []string{"$target", "$target", "$other", "$other"} {
		put(t, st, mk(t, fmt.Sprintf("$more%d", i), "m.reaction", "@alice:example.org", 2003+int64(i), nil,
			fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"%d"}}`, target, i)))
	}
	rel, err = st.Related(ctx, []id.EventID{msg.ID})
	if err != nil || len(rel) != 3 {
		t.Errorf("Related of $target among six relations = %d events, %v; want 3", len(rel), err)
	}
}

// TestProbeAsksOnce: the probe's kinds are worked out once an ID. Both
// databases flattened the probe's subquery into its outer query and so
// wrote the sum of kinds twice, once for the WHERE and once for the row:
// every ID the probe returned (one stored already, a relation's target)
// was looked up twice in every table. A re-import of the 1M replay, every
// event stored already, took 11.5-12.4 s on SQLite and 12.3-13.9 on
// PostgreSQL, and 8.2-8.7 and 10.3 once the subquery was fenced.
func TestProbeAsksOnce(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.Open(t, dialect)
			query, arg, index := store.SQLiteProbeSQL, any(`["$a","$b"]`), "events_eh"
			if dialect == "postgres" {
				query, arg, index = store.PostgresProbeSQL, []string{"$a", "$b"}, "events_idkey"
			}
			plan := queryPlan(t, st, query, arg)
			if n := strings.Count(plan, index); n != 1 {
				t.Errorf("the probe looks each ID up in %s %d times, want once:\n%s", index, n, plan)
			}
		})
	}
}

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
