package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// fillEveryTable writes through the store's own write paths until every
// table of the schema holds rows: events and state, a transaction record,
// a quarantined event (st refuses $poison), redactions, media refs, fetched
// media, its queue and an orphaned blob, alias claims and routes, sync and
// backfill state, a pending join, an opt-out, a takedown, an erased user's
// tombstones and the operator log.
func fillEveryTable(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.PutTransaction(ctx, "txn1", poisonBatch(t)); err != nil {
		t.Fatalf("PutTransaction: %v", err)
	}
	if _, err := st.RouteUnclaimedAliases(ctx, room); err != nil {
		t.Fatal(err)
	}
	// A visibility pushed (pushed_visibility, rooms.arrived_*).
	hv := mk(t, "$hv2", "m.room.history_visibility", "@alice:example.org", 1400, sk(""), `{"history_visibility":"world_readable"}`)
	hv.Arrived = 1
	if _, err := st.PutTransaction(ctx, "txn2", []store.Event{hv}); err != nil {
		t.Fatalf("PutTransaction: %v", err)
	}
	put(t, st,
		mk(t, "$bobjoin", "m.room.member", "@bob:example.org", 1500, sk("@bob:example.org"), `{"membership":"join","displayname":"Bob"}`),
		mediaMsg(t, "$img", "@bob:example.org", 3000, "m.image", "mxc://example.org/img", "mxc://example.org/thumb"),
		mediaMsg(t, "$file", "@bob:example.org", 3100, "m.file", "mxc://example.org/file", ""),
		mk(t, "$m3", "m.room.message", "@carol:example.org", 3200, nil, `{"msgtype":"m.text","body":"carol was here"}`),
		mk(t, "$m4", "m.room.message", "@dave:example.org", 3300, nil, `{"msgtype":"m.text","body":"dave too"}`),
		mk(t, "$m5", "m.room.message", "@alice:example.org", 3400, nil, `{"msgtype":"m.text","body":"to be taken down"}`))
	if !fetched(t, st, "mxc://example.org/img", shaA) || !fetched(t, st, "mxc://example.org/thumb", shaB) {
		t.Fatal("fetched media not kept")
	}
	// Redacting $img orphans its thumbnail's blob; its own blob stays.
	put(t, st, mk(t, "$r1", "m.room.redaction", "@alice:example.org", 4000, nil, `{"redacts":"$img","reason":"spam"}`))
	if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: room, ForwardToken: "s42", CompleteFrom: time.UnixMilli(1000),
		ReachedCreate: true, BackfilledAt: time.UnixMilli(5000), Backfill: store.BackfillComplete, SweepVisibility: "world_readable"}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddPendingJoin(ctx, store.PendingJoin{Target: "!next:example.org", Kind: "invite", Inviter: "@alice:example.org",
		Via: []string{"example.org"}, AddedAt: time.UnixMilli(6000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.OptOut(ctx, "@dave:example.org", "command"); err != nil {
		t.Fatal(err)
	}
	if err := st.Takedown(ctx, "$m5", "court order"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.EraseUser(ctx, "@carol:example.org", false); err != nil {
		t.Fatal(err)
	}
	if err := st.LogOperator(ctx, store.OperatorAction{At: time.UnixMilli(7000), Actor: "root", Command: "takedown",
		Target: "$m5", Reason: "court order", Affected: 1}); err != nil {
		t.Fatal(err)
	}
}

// tableCounts counts the rows of every table of the schema, read from the
// database's own catalogue.
func tableCounts(t *testing.T, st *store.Store) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	if st.Dialect() == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	counts := map[string]int64{}
	for _, tb := range tables {
		var n int64
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM "`+tb+`"`).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", tb, err)
		}
		counts[tb] = n
	}
	return counts
}

// archiveReads is what readers and the operator get from a store.
type archiveReads struct {
	Day        []store.Event
	Changes    []store.Change
	OpLog      []store.OperatorAction
	Statuses   []store.RoomStatus
	Rooms      []store.Room
	Redactions map[id.EventID]store.Redaction
	Quarantine []store.QuarantinedEvent
	Sync       store.RoomSync
	Media      []store.Media
	OptedOut   bool
	Tombstone  string
	Alias      id.RoomID
	Pending    []store.PendingJoin
}

func readArchive(t *testing.T, st *store.Store) archiveReads {
	t.Helper()
	ctx := context.Background()
	var r archiveReads
	var err error
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s on %s: %v", what, st.Dialect(), err)
		}
	}
	r.Day, _, err = st.DayPage(ctx, room, 0, 1<<50, store.Position{}, 1000, 0)
	check("DayPage", err)
	r.Changes, err = st.Changes(ctx, 0, 1000)
	check("Changes", err)
	r.OpLog, err = st.FindOperatorLog(ctx, store.OperatorLogQuery{Limit: 1000})
	check("FindOperatorLog", err)
	r.Statuses, err = st.RoomStatuses(ctx)
	check("RoomStatuses", err)
	r.Rooms, err = st.Rooms(ctx)
	check("Rooms", err)
	r.Redactions, err = st.RedactionsOf(ctx, []id.EventID{"$img", "$m5"})
	check("RedactionsOf", err)
	r.Quarantine, err = st.Quarantined(ctx, 100)
	check("Quarantined", err)
	r.Sync, err = st.RoomSync(ctx, room)
	check("RoomSync", err)
	for _, uri := range []string{"mxc://example.org/img", "mxc://example.org/thumb", "mxc://example.org/file"} {
		m, _ := event.ParseMXC(uri)
		md, err := st.MediaFor(ctx, m)
		check("MediaFor", err)
		r.Media = append(r.Media, md)
	}
	r.OptedOut, err = st.OptedOut(ctx, "@dave:example.org")
	check("OptedOut", err)
	r.Tombstone, err = st.Tombstone(ctx, "$m3")
	check("Tombstone", err)
	r.Alias, err = st.RoomIDByAlias(ctx, "#test:example.org")
	check("RoomIDByAlias", err)
	r.Pending, err = st.DuePendingJoins(ctx, time.UnixMilli(1<<50), 100)
	check("DuePendingJoins", err)
	return r
}

// TestCopyToPostgres moves an archive filled through every write path from
// SQLite to PostgreSQL and reads the same archive back: every table of the
// schema copied whole (a table a future migration adds and the fixture
// does not fill fails here), the same pages, feed positions, operator log
// and statuses, and new writes continue the feed after the copied positions.
func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	src, _ := storetest.Refusing(t, "sqlite", "$poison")
	fillEveryTable(t, src)
	want := tableCounts(t, src)
	delete(want, "schema_version")
	for tb, n := range want {
		if n == 0 {
			t.Errorf("table %s is empty in the fixture: fill it in fillEveryTable through its write path, so that its copy is checked", tb)
		}
	}
	dst := storetest.Open(t, "postgres")
	var calls int
	report, err := src.CopyTo(ctx, dst, func(p store.CopyProgress) {
		calls++
		if p.Copied > p.Total || p.TableIndex < 1 || p.TableIndex > p.Tables {
			t.Errorf("progress %+v", p)
		}
	})
	if err != nil {
		t.Fatalf("CopyTo: %v", err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	got := tableCounts(t, dst)
	delete(got, "schema_version")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("target counts %v, source counts %v", got, want)
	}
	var reported []string
	for _, tc := range report {
		reported = append(reported, tc.Table)
		if tc.Rows != want[tc.Table] || tc.Copied != tc.Rows {
			t.Errorf("report %+v, source has %d", tc, want[tc.Table])
		}
	}
	var tables []string
	for tb := range want {
		tables = append(tables, tb)
	}
	slices.Sort(tables)
	if !slices.Equal(reported, tables) {
		t.Errorf("reported tables %v, schema has %v", reported, tables)
	}

	// Vacuumed and analyzed, as a large import leaves it
	// (store.AfterBulkWrite): the planner knows the copied rows, and
	// counts of them read their index alone.
	conn, err := dst.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var vacuumed, analyzed bool
	var pages, visible int
	if err := conn.QueryRowContext(ctx, `SELECT s.last_vacuum IS NOT NULL, s.last_analyze IS NOT NULL, c.relpages, c.relallvisible
		FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'events'`).Scan(&vacuumed, &analyzed, &pages, &visible); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if !vacuumed || !analyzed || pages == 0 || visible != pages {
		t.Errorf("after the copy the events are vacuumed %v, analyzed %v, %d of their %d pages all-visible; want both and all", vacuumed, analyzed, visible, pages)
	}

	before, after := readArchive(t, src), readArchive(t, dst)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("reads differ after the copy:\nsqlite:   %+v\npostgres: %+v", before, after)
	}
	if len(before.Changes) == 0 || len(before.OpLog) == 0 || len(before.Quarantine) == 0 || !before.OptedOut || before.Tombstone == "" {
		t.Fatalf("the fixture lacks what it should hold: %+v", before)
	}

	// New writes continue after the copied ids: feed positions and nids.
	put(t, dst, mk(t, "$new", "m.room.message", "@alice:example.org", 9000, nil, `{"msgtype":"m.text","body":"first on postgres"}`))
	head, err := src.FeedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := dst.Changes(ctx, head, 10)
	if err != nil || len(ch) != 1 || ch[0].EventID != "$new" {
		t.Fatalf("changes after the copied head %d = %+v, %v; want the new event only", head, ch, err)
	}
}

// TestCopyToRefuses: a target that holds anything, and a source or target
// an archiver records into, are refused with a clear error and left as
// they were.
func TestCopyToRefuses(t *testing.T) {
	ctx := context.Background()
	src, _ := storetest.Refusing(t, "sqlite")
	put(t, src, baseRoom(t)...)

	full := storetest.Open(t, "postgres")
	if err := full.LogOperator(ctx, store.OperatorAction{At: time.UnixMilli(1), Actor: "root", Command: "hide-room", Target: string(room)}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CopyTo(ctx, full, nil); !errors.Is(err, store.ErrTargetNotEmpty) {
		t.Errorf("copy into a non-empty target = %v, want ErrTargetNotEmpty", err)
	}
	if n, err := full.CountEvents(ctx); err != nil || n != 0 {
		t.Errorf("refused target has %d events, %v", n, err)
	}

	empty := storetest.Open(t, "postgres")
	lock, err := src.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.CopyTo(ctx, empty, nil); !errors.Is(err, store.ErrArchiverRunning) {
		t.Errorf("copy while an archiver runs on the source = %v, want ErrArchiverRunning", err)
	}
	lock.Release()
	lock, err = empty.LockArchiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.CopyTo(ctx, empty, nil); !errors.Is(err, store.ErrArchiverRunning) {
		t.Errorf("copy while an archiver runs on the target = %v, want ErrArchiverRunning", err)
	}
	lock.Release()
	if n, err := empty.CountEvents(ctx); err != nil || n != 0 {
		t.Errorf("refused target has %d events, %v", n, err)
	}
	if _, err := src.CopyTo(ctx, empty, nil); err != nil {
		t.Fatalf("copy once released: %v", err)
	}
	if _, err := empty.CopyTo(ctx, src, nil); err == nil {
		t.Error("a copy from PostgreSQL to SQLite was not refused")
	}
}
