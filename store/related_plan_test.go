package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedInIsIndexProbes: RelatedIn walks the day's related events
// on events_related and finds each one's relations on events_rel, probed
// with the event's ID, on both databases (queryPlan): a day page's
// relations cost the day's related events, not the room
// (TestRelatedInCostsTheDay), nor a probe for each of the day's events.
func TestRelatedInIsIndexProbes(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
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
		probe := regexp.MustCompile(`Index Cond: \(\(?rel_target = \w+\.event_id\)`)
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
// test is whether the indexes can answer). On PostgreSQL it is the plan
// the store's sessions run: planned for the arguments (PostgreSQL's
// default for a statement's first executions), or for any arguments where
// they plan generically (archive-web's, eachPlanStore).
func queryPlan(t *testing.T, st *store.Store, query string, args ...any) string {
	t.Helper()
	return planOf(t, st, true, query, args...)
}

// planOf is queryPlan, PostgreSQL told to avoid sequential scans only if
// steer is set: unsteered, the plan is what its statistics choose.
func planOf(t *testing.T, st *store.Store, steer bool, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	query = st.DBForm(query) // as the store runs it
	q := "EXPLAIN QUERY PLAN " + query
	if st.Dialect() == "postgres" {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET enable_seqscan = %v", !steer)); err != nil {
			t.Fatal(err)
		}
		q = "EXPLAIN " + query
		var mode string
		if err := conn.QueryRowContext(ctx, "SHOW plan_cache_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode == "force_generic_plan" {
			// EXPLAIN of a statement with arguments plans it for them
			// whatever the mode; a prepared statement's generic plan
			// shows through EXPLAIN EXECUTE (PostgreSQL 16 has EXPLAIN
			// (GENERIC_PLAN)).
			if _, err := conn.ExecContext(ctx, "PREPARE plan_test AS "+query); err != nil {
				t.Fatal(err)
			}
			defer conn.ExecContext(ctx, "DEALLOCATE plan_test")
			q, args = "EXPLAIN EXECUTE plan_test"+sqlLiterals(t, args), nil
		}
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

// analyzedPlan is PostgreSQL's EXPLAIN ANALYZE, with options besides
// ANALYZE, of query (as the store runs it) with args on conn.
func analyzedPlan(t *testing.T, conn *sql.Conn, options, query string, args ...any) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), "EXPLAIN (ANALYZE, "+options+") "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&plan, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}

// sqlLiterals is args as PostgreSQL's argument list of literals.
func sqlLiterals(t *testing.T, args []any) string {
	t.Helper()
	if len(args) == 0 {
		return ""
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	lits := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			lits[i] = quote(v)
		case int, int64, bool:
			lits[i] = fmt.Sprint(v)
		case []string:
			q := make([]string, len(v))
			for j, s := range v {
				q[j] = quote(s)
			}
			lits[i] = "ARRAY[" + strings.Join(q, ", ") + "]::text[]"
		default:
			t.Fatalf("no literal for %T", a)
		}
	}
	return "(" + strings.Join(lits, ", ") + ")"
}

// eachPlanStore runs fn as a subtest with a store of each dialect and,
// on PostgreSQL, once more with archive-web's (store.Options.ReadMostly),
// whose sessions plan each statement once for any arguments: a plan test
// holds both to the index it names.
func eachPlanStore(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	storetest.Each(t, fn)
	t.Run("postgres, archive-web", func(t *testing.T) {
		fn(t, storetest.OpenWith(t, "postgres", store.Options{ReadMostly: true}))
	})
}

// TestReadStateProbesRooms: the rooms that name a room as their successor
// (the imported predecessor every page's read state asks for) are found
// on rooms_successor, not by reading every room: an archive of 1,600
// rooms spent half of a cached page's time there.
func TestReadStateProbesRooms(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		for _, q := range []string{store.RoomReadSQL, store.ReadStateSQL} {
			plan := queryPlan(t, st, q, "!x:example.org")
			if !strings.Contains(plan, "rooms_successor") || regexp.MustCompile(`SCAN rooms\b`).MatchString(plan) {
				t.Errorf("the predecessor is not found on rooms_successor:\n%s", plan)
			}
		}
	})
}

// TestRelatedNarrowSort: on SQLite, whose window functions and sorts hold
// their rows in memory, Related and RelatedIn rank and sort relations
// without their JSON, and read each one's row by its nid in that order:
// the outermost query scans the ranked rows and looks each up by rowid,
// and sorts nothing (a thread of 500 replies as large as a homeserver
// lets through was 47 MB held by each read of it, 16 reads at once took
// archive-web to 590 MB).
func TestRelatedNarrowSort(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	related, args := store.RelatedSQL(st, "$x")
	for name, plan := range map[string]string{
		"Related":   queryPlan(t, st, related, args...),
		"RelatedIn": queryPlan(t, st, store.RelatedInSQL(st), "!x:example.org", int64(1000), int64(0), int64(2000), int64(9)),
	} {
		var outer []string
		for _, l := range strings.Split(plan, "\n") {
			if f := strings.Fields(l); len(f) > 3 && f[1] == "0" {
				outer = append(outer, strings.Join(f[3:], " "))
			}
		}
		if want := "[CO-ROUTINE ranked SCAN ranked SEARCH events USING INTEGER PRIMARY KEY (rowid=?)]"; fmt.Sprint(outer) != want {
			t.Errorf("%s's outermost query does %q, want %s:\n%s", name, outer, want, plan)
		}
	}
}

// TestRelationReadsProbeEventsRel: Related, ThreadRoots and LatestEdits
// narrow their list of targets to those with a relation (of their type)
// before they look any up by its ID (for every message of a reindex,
// 11% of its CPU): on events_rel, a probe for each on SQLite, one scan
// for the list on PostgreSQL; PostgreSQL's Related, whose lists are a
// page's, looks its targets up and keeps those some event names
// (related). Each one's relations are then walked on events_rel from
// the latest to arrive, no further than Related keeps (on PostgreSQL a
// backward scan of events_rel, which holds nid since migration 023, under
// a Limit), never on the events table, and only in the target's room
// (events_rel holds the room since migration 025); a message's edits on
// events_edits, which holds only edits, by their sender (migration 027):
// only the message's sender's are valid, and walked on events_rel, the
// others were read to be left out (100,000 of them, 92-114 ms for each
// read of the message on SQLite).
func TestRelationReadsProbeEventsRel(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		for name, q := range store.RelationReadQueries(st) {
			plan := queryPlan(t, st, q.Query, q.Args...)
			// How many walks of each index the read's plan must have:
			// Related walks the three kinds it reads (a poll's
			// references are PollVotes'), LatestEdits the edits and
			// ThreadRoots the thread replies.
			walksRel, walksEdits := map[string]int{"Related": 2, "LatestEdits": 0, "ThreadRoots": 1}[name], map[string]int{"Related": 1, "LatestEdits": 1, "ThreadRoots": 0}[name]
			want := []*regexp.Regexp{
				regexp.MustCompile(`SEARCH x (EXISTS )?USING INDEX events_(rel|edits) \(rel_target=\?`),
				regexp.MustCompile(`SEARCH t USING INDEX events_eh`),
			}
			walkRel := regexp.MustCompile(`SEARCH r USING INDEX events_rel \(rel_target=\? AND room_id=\? AND rel_type=\?\)`)
			walkEdits := regexp.MustCompile(`SEARCH r USING INDEX events_edits \(rel_target=\? AND room_id=\? AND sender=\?\)`)
			walkAny := regexp.MustCompile(`(SEARCH|SCAN) r\b`)
			scan := regexp.MustCompile(`(?m)SCAN (events|e|t|x|r)$`)
			if st.Dialect() == "postgres" {
				// The list's targets made distinct before their key is
				// computed: computed for each relation (idh, an md5), it
				// was most of ThreadRoots' 19 ms for a root with 20,000
				// replies (BenchmarkThreadRoots; now 2).
				probe := regexp.MustCompile(`(Unique|HashAggregate)[^\n]*\n(\s+Group Key: x\.rel_target\n)?\s+->  Index (Only )?Scan using events_(rel|edits) on events x [^\n]*\n\s+Index Cond: \(+rel_target = ANY `)
				if name == "Related" {
					probe = regexp.MustCompile(`Filter: [^\n]*\brelated\b`)
				}
				want = []*regexp.Regexp{probe, regexp.MustCompile(`events_idkey`)}
				walkRel = regexp.MustCompile(`Limit[^\n]*\n\s+->  Index Scan Backward using events_rel on events r[^\n]*\n\s+Index Cond: \(\(rel_target = t\.event_id\) AND \(room_id = t\.room_id\) AND \(rel_type = 'm\.(thread|annotation)'::text\)\)`)
				walkEdits = regexp.MustCompile(`Limit[^\n]*\n\s+->  Index Scan Backward using events_edits on events r[^\n]*\n\s+Index Cond: \(\(rel_target = t\.event_id\) AND \(room_id = t\.room_id\) AND \(sender = t\.sender\)\)`)
				walkAny = regexp.MustCompile(`on events r(_\d+)?\b`)
				scan = regexp.MustCompile(`Seq Scan on events\b`)
			}
			for _, w := range want {
				if !w.MatchString(plan) {
					t.Errorf("%s: no %s in its plan:\n%s", name, w, plan)
				}
			}
			rel, edits, all := len(walkRel.FindAllString(plan, -1)), len(walkEdits.FindAllString(plan, -1)), len(walkAny.FindAllString(plan, -1))
			if rel != walksRel || edits != walksEdits || all != walksRel+walksEdits {
				t.Errorf("%s: %d walks on events_rel, %d on events_edits, %d in all; want %d, %d and no other:\n%s", name, rel, edits, all, walksRel, walksEdits, plan)
			}
			if scan.MatchString(plan) {
				t.Errorf("%s: scans the events:\n%s", name, plan)
			}
		}
	})
}

// TestPollVotesWalkVoters: PollVotes finds a poll's voters on
// events_votes, each as the first after the one before, and reads each
// one's latest responses there too: a member's flood of responses costs
// a read of the poll one step, not a walk of it.
func TestPollVotesWalkVoters(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		q := store.PollVotesQuery(st, "$a", "$b")
		plan := queryPlan(t, st, q.Query, q.Args...)
		next := regexp.MustCompile(`SEARCH r USING (COVERING )?INDEX events_votes \(rel_target=\? AND room_id=\? AND sender>\?\)`)
		first := regexp.MustCompile(`SEARCH r USING (COVERING )?INDEX events_votes \(rel_target=\? AND room_id=\?\)`)
		walk := regexp.MustCompile(`SEARCH r USING INDEX events_votes \(rel_target=\? AND room_id=\? AND sender=\?\)`)
		other := regexp.MustCompile(`(SEARCH|SCAN) r\b`)
		scan := regexp.MustCompile(`(?m)SCAN (events|e|t|r)$`)
		if st.Dialect() == "postgres" {
			next = regexp.MustCompile(`Index (Only )?Scan using events_votes on events r(_\d+)?[^\n]*\n\s+Index Cond: \(\(rel_target = v(_\d+)?\.target\) AND \(room_id = v(_\d+)?\.room\) AND \(sender > v(_\d+)?\.sender\)\)`)
			first = regexp.MustCompile(`Index (Only )?Scan using events_votes on events r(_\d+)?[^\n]*\n\s+Index Cond: \(\(rel_target = (events|t)\.event_id\) AND \(room_id = (events|t)\.room_id\)\)`)
			walk = regexp.MustCompile(`Index Scan Backward using events_votes on events r(_\d+)?[^\n]*\n\s+Index Cond: \(\(rel_target = v(_\d+)?\.target\) AND \(room_id = v(_\d+)?\.room\) AND \(sender = v(_\d+)?\.sender\)\)`)
			other = regexp.MustCompile(`on events r(_\d+)?\b`)
			scan = regexp.MustCompile(`Seq Scan on events\b`)
		}
		n := map[string]int{}
		for name, re := range map[string]*regexp.Regexp{"first": first, "next": next, "walk": walk, "other": other} {
			n[name] = len(re.FindAllString(plan, -1))
		}
		if n["first"] != 1 || n["next"] != 1 || n["walk"] != 1 || n["other"] != 3 || scan.MatchString(plan) {
			t.Errorf("PollVotes' plan: %v walks of events_votes (want one of each) and %d of r in all (want 3), or a scan:\n%s", n, n["other"], plan)
		}
	})
}

// TestWalksReadOnlyWhatTheyKeep: a redacted relation leaves events_rel
// (migration 026), and a message's edits by other senders are not walked
// (events_edits, migration 027), so that no read of the message reads
// them to leave them out: a spammer's 50,000 reactions to a message,
// redacted by the room's moderators, made every read of it walk them all
// (53-58 ms on SQLite), for ever, and 100,000 edits of it by another
// member 92-114 ms. SQLite's events_rel is counted (dbstat: every cell
// of an index's B-tree is an entry; SQLite walks the edits as
// TestRelationReadsProbeEventsRel shows); PostgreSQL's walks for Related,
// planned with the statistics an import leaves (AfterBulkWrite), must
// remove no row by their filters.
func TestWalksReadOnlyWhatTheyKeep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := append(baseRoom(t), mk(t, "$t", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hello"}`))
		const reactions, redacted, othersEdits, edits = 300, 200, 300, 2
		for i := range reactions {
			evs = append(evs, mk(t, fmt.Sprintf("$r%d", i), "m.reaction", "@bob:example.org", 3000+int64(i), nil,
				fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$t","key":"%d"}}`, i)))
		}
		for i := range redacted {
			evs = append(evs, mk(t, fmt.Sprintf("$x%d", i), "m.room.redaction", "@bob:example.org", 4000+int64(i), nil,
				fmt.Sprintf(`{"redacts":"$r%d"}`, i)))
		}
		for i := range othersEdits + edits {
			sender := "@bob:example.org"
			if i >= othersEdits {
				sender = "@alice:example.org"
			}
			evs = append(evs, mk(t, fmt.Sprintf("$e%d", i), "m.room.message", sender, 5000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"* %d","m.new_content":{"msgtype":"m.text","body":"%d"},"m.relates_to":{"rel_type":"m.replace","event_id":"$t"}}`, i, i)))
		}
		put(t, st, evs...)
		rel, err := st.Related(ctx, []id.EventID{"$t"})
		if err != nil {
			t.Fatal(err)
		}
		if len(rel) != reactions-redacted+edits {
			t.Fatalf("Related = %d events, want the %d unredacted reactions and Alice's %d edits", len(rel), reactions-redacted, edits)
		}
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if st.Dialect() == "sqlite" {
			var entries int
			if err := conn.QueryRowContext(ctx, `SELECT SUM(ncell) FROM dbstat WHERE name = 'events_rel'`).Scan(&entries); err != nil {
				t.Fatal(err)
			}
			if want := reactions - redacted + othersEdits + edits; entries != want {
				t.Errorf("events_rel holds %d entries, want the %d unredacted relations", entries, want)
			}
			return
		}
		if err := st.AfterBulkWrite(ctx); err != nil {
			t.Fatal(err)
		}
		query, args := store.RelatedSQL(st, "$t")
		plan := analyzedPlan(t, conn, "COSTS OFF", st.DBForm(query), args...)
		// PostgreSQL walks each kind on its index, or reads its entries
		// there for a bitmap scan; either way, the rows the walk's
		// filter removes are what it read to leave out.
		walks := regexp.MustCompile(`(Index Scan Backward using|Bitmap Index Scan on) events_(rel|edits)\b`).FindAllString(plan, -1)
		if len(walks) != 3 {
			t.Fatalf("Related walks %d kinds of relation on events_rel and events_edits, want 3 (edits, thread replies, reactions):\n%s", len(walks), plan)
		}
		if m := regexp.MustCompile(`Rows Removed by (Filter|Index Recheck): \d+`).FindString(plan); m != "" {
			t.Errorf("Related read relations it left out (%s):\n%s", m, plan)
		}
	})
}
