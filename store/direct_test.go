package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// directDay is a day of every kind of event a day page lists, and some
// it leaves out: state with and without a key, a display name of more
// than ASCII (its NUL stored as U+FFFD), a reply, a thread reply, an edit, a reaction, and a
// redacted message.
func directDay(t *testing.T) []store.Event {
	day := 20 * dayMS
	evs := baseRoom(t)
	evs = append(evs,
		mk(t, "$zoe", "m.room.member", "@zoe:example.org", day+1000, sk("@zoe:example.org"), `{"membership":"join","displayname":"Zoë \u0000🐙"}`),
		mk(t, "$topic", "m.room.topic", "@alice:example.org", day+2000, sk(""), `{"topic":"direct reads"}`),
		mk(t, "$m1", "m.room.message", "@zoe:example.org", day+3000, nil, `{"msgtype":"m.text","body":"hello, world"}`),
		mk(t, "$m2", "m.room.message", "@alice:example.org", day+4000, nil, `{"msgtype":"m.text","body":"a reply","m.relates_to":{"m.in_reply_to":{"event_id":"$m1"}}}`),
		mk(t, "$m3", "m.room.message", "@alice:example.org", day+5000, nil, `{"msgtype":"m.text","body":"in a thread","m.relates_to":{"rel_type":"m.thread","event_id":"$m1"}}`),
		mk(t, "$edit", "m.room.message", "@zoe:example.org", day+6000, nil, `{"msgtype":"m.text","body":"* hello","m.new_content":{"msgtype":"m.text","body":"hello"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"}}`),
		mk(t, "$react", "m.reaction", "@alice:example.org", day+7000, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"👍"}}`),
		mk(t, "$gone", "m.room.message", "@zoe:example.org", day+8000, nil, `{"msgtype":"m.text","body":"soon gone"}`),
		mk(t, "$redact", "m.room.redaction", "@zoe:example.org", day+9000, nil, `{"redacts":"$gone"}`),
	)
	for i := range evs {
		if evs[i].Sender == "@zoe:example.org" {
			evs[i].SenderName = "Zoë \x00🐙" // as ingest names a sender
		}
	}
	for i := range 40 {
		evs = append(evs, mk(t, fmt.Sprintf("$n%02d", i), "m.room.message", "@alice:example.org", day+10000+int64(i), nil,
			fmt.Sprintf(`{"msgtype":"m.text","body":"line %d \"quoted\" \\ back"}`, i)))
	}
	return evs
}

// Events are read through SQLite's API (direct.go) and pgx's rows
// (directpg.go): every page of a day reads as it does through
// database/sql, forwards and backwards, whole or cut short, and so do the
// reads of every column (by ID, in the store's order, a whole day, a
// room's state).
func TestDirectReadsAsDatabaseSQL(t *testing.T) {
	storetest.Each(t, testDirectReadsAsDatabaseSQL)
}

func testDirectReadsAsDatabaseSQL(t *testing.T, st *store.Store) {
	ctx := context.Background()
	put(t, st, directDay(t)...)
	from := 20 * dayMS
	read := func(direct bool, f func() ([]store.Event, bool, error)) ([]store.Event, bool) {
		t.Helper()
		st.SetDirect(direct)
		defer st.SetDirect(true)
		evs, more, err := f()
		if err != nil {
			t.Fatalf("direct %v: %v", direct, err)
		}
		return evs, more
	}
	for _, c := range []struct {
		name string
		f    func() ([]store.Event, bool, error)
	}{
		{"whole day", func() ([]store.Event, bool, error) {
			return st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 1000, 0)
		}},
		{"first 5", func() ([]store.Event, bool, error) {
			return st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 5, 0)
		}},
		{"after the thread reply", func() ([]store.Event, bool, error) {
			return st.DayPage(ctx, room, from, from+dayMS, store.Position{TS: from + 5000, NID: 1 << 40}, 7, 0)
		}},
		{"backwards", func() ([]store.Event, bool, error) {
			return st.DayPageBefore(ctx, room, from, store.Position{TS: from + 10020, NID: 0}, 9, 0)
		}},
		{"first 2,000 bytes", func() ([]store.Event, bool, error) {
			return st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 1000, 2000)
		}},
		{"backwards, 1,500 bytes", func() ([]store.Event, bool, error) {
			return st.DayPageBefore(ctx, room, from, store.Position{TS: from + 10020, NID: 0}, 1000, 1500)
		}},
		// Queries of eventColumns, every column of the events table.
		{"by ID", func() ([]store.Event, bool, error) {
			evs, err := st.EventsByID(ctx, []id.EventID{"$zoe", "$m2", "$m3", "$edit", "$react", "$gone", "$redact", "$n07", "$unknown"})
			return evs, false, err
		}},
		{"in store order", func() ([]store.Event, bool, error) {
			evs, err := st.EventsInStoreOrder(ctx, []id.EventID{"$m1", "$m2", "$m3", "$edit", "$react", "$gone", "$redact"})
			return evs, false, err
		}},
		{"whole day, every event", func() ([]store.Event, bool, error) {
			evs, err := st.DayEvents(ctx, room, from, from+dayMS)
			return evs, false, err
		}},
		{"state", func() ([]store.Event, bool, error) {
			evs, err := st.StateEvents(ctx, room)
			return evs, false, err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, wantMore := read(false, c.f)
			before := st.DirectReads()
			got, gotMore := read(true, c.f)
			if len(want) == 0 {
				t.Fatal("database/sql read no events")
			}
			if st.DirectReads() == before {
				t.Fatal("the events were not read the direct way")
			}
			if gotMore != wantMore || len(got) != len(want) {
				t.Fatalf("direct: %d events, more %v; database/sql: %d, more %v", len(got), gotMore, len(want), wantMore)
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("event %d:\ndirect       %+v\ndatabase/sql %+v", i, got[i], want[i])
				}
			}
		})
	}
	// The day's kinds are there to compare: a state key, a relation, a
	// redaction, the odd name.
	evs, _, err := st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen["state key"] = seen["state key"] || (e.StateKey != nil && *e.StateKey == "")
		seen["reply"] = seen["reply"] || e.Rel.ReplyTo == "$m1"
		seen["thread"] = seen["thread"] || e.Rel.Type == "m.thread"
		seen["redacted"] = seen["redacted"] || e.Redacted
		seen["name"] = seen["name"] || strings.Contains(e.SenderName, "Zoë \ufffd🐙")
	}
	for _, k := range []string{"state key", "reply", "thread", "redacted", "name"} {
		if !seen[k] {
			t.Errorf("the day read has no event with a %s to compare", k)
		}
	}
}

// A connection database/sql closes keeps its statements of the direct
// path until they are finalized, and SQLite keeps it (its file, its page
// cache) until then: the next direct read finalizes them, and Close those
// of the connections it closed. Without, every connection the pool
// replaced stayed open as a zombie.
func TestDirectReadReleasesClosedConnections(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dir, storetest.Logger(t), store.Options{ReadMostly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put(t, st, directDay(t)...)
	st.SetMaxIdleConns(0) // every connection is closed once used
	from := 20 * dayMS
	for range 3 {
		if _, _, err := st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 1000, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.DirectConns(); n != 1 {
		t.Errorf("after three reads on connections closed after each, statements are kept for %d connections; want 1 (the last's)", n)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if n := st.DirectConns(); n != 0 {
		t.Errorf("after Close, statements are kept for %d connections", n)
	}
	if fds := openFilesUnder(t, dir); len(fds) > 0 {
		t.Errorf("after Close, the process still has open: %v", fds)
	}
}

// openFilesUnder lists the files under dir this process has open.
func openFilesUnder(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) {
			out = append(out, target)
		}
	}
	return out
}

// A statement the direct path keeps is not compiled again for its next
// read: SQLite expires a statement whose plan looked at a parameter
// (Vdbe.expmask) when sqlite3_clear_bindings runs, so clearing them after
// each read compiled a day page's read and its RelatedIn again for every
// page (RelatedIn's 0.3 ms of CPU was nearly all compiling). Binding new
// values expires a statement only where the old value could change its
// plan, as SQLite decides.
func TestDirectReadKeepsItsStatementsCompiled(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	put(t, st, directDay(t)...)
	st.SetMaxOpenConns(1) // one connection: its statements are the ones kept
	from := 20 * dayMS
	compiled := 0
	for i := range 6 {
		evs, _, err := st.DayPage(ctx, room, from+int64(i), from+dayMS, store.Position{}, 1000, 0)
		if err != nil || len(evs) < 12 {
			t.Fatalf("day page: %d events, %v", len(evs), err)
		}
		first, last := store.PositionOf(evs[i]), store.PositionOf(evs[len(evs)-1-i])
		if _, err := st.RelatedIn(ctx, room, first, last); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EventsByID(ctx, []id.EventID{evs[i].ID, evs[len(evs)-1].ID}); err != nil {
			t.Fatal(err)
		}
		// A lookup for each member event (directPreviousMembership):
		// the statement's type is in its text, since binding the
		// parameter that chose a partial index expires it.
		if prev, err := st.PreviousMembership(ctx, evs); err != nil || len(prev) != 0 {
			t.Fatalf("previous membership: %v, %v", prev, err)
		}
		if i == 0 {
			// SQLite may compile a statement again once its first
			// arguments are bound; that is paid once a connection.
			compiled = st.DirectReprepares()
		}
	}
	if st.DirectConns() != 1 {
		t.Fatalf("statements kept for %d connections; want 1", st.DirectConns())
	}
	if n := st.DirectReprepares() - compiled; n != 0 {
		t.Errorf("the kept statements were compiled again %d times in 5 more reads of each", n)
	}
}

// A context that ends after a direct read has returned interrupts
// nothing: the next read on the same connection runs whole.
func TestDirectReadInterruptsOnlyItsOwnStatement(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	put(t, st, directDay(t)...)
	st.SetMaxOpenConns(1)
	from := 20 * dayMS
	for range 20 {
		cctx, cancel := context.WithCancel(ctx)
		if _, _, err := st.DayPage(cctx, room, from, from+dayMS, store.Position{}, 1000, 0); err != nil {
			t.Fatal(err)
		}
		cancel()
		evs, _, err := st.DayPage(ctx, room, from, from+dayMS, store.Position{}, 1000, 0)
		if err != nil || len(evs) == 0 {
			t.Fatalf("the read after a context ended: %d events, %v", len(evs), err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := st.DayPage(cctx, room, from, from+dayMS, store.Position{}, 1000, 0); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("a read with its context ended: %v", err)
	}
}

// Lookups read one after another on a connection (directProbes, as
// PreviousMembership's) share one read transaction and end it, however
// they end: cut short by their context or whole. A connection left in it
// would go back to the pool with its snapshot held and refuse to write.
func TestDirectProbesEndTheirTransaction(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	put(t, st, directDay(t)...)
	st.SetMaxOpenConns(1) // the next write takes the same connection
	const q = `SELECT raw FROM events WHERE nid = $1`
	args := make([][]any, 2000)
	for i := range args {
		args[i] = []any{int64(i%40 + 1)}
	}
	cut := 0
	for i := range 20 {
		cctx, cancel := context.WithCancel(ctx)
		rows := 0
		direct, err := st.DirectProbes(cctx, q, args, func(int, []byte) {
			if rows++; rows == 10 {
				cancel()
			}
		})
		cancel()
		if !direct {
			t.Fatal("not read directly")
		}
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "context canceled"):
			cut++
		default:
			t.Fatalf("probes cut short: %v", err)
		}
		// A write on the same connection, then a read that sees it.
		e := mk(t, fmt.Sprintf("$after%d", i), "m.room.message", "@alice:example.org", 30*dayMS+int64(i), nil, `{"msgtype":"m.text","body":"after"}`)
		put(t, st, e)
		seen := false
		if _, err := st.DirectProbes(ctx, `SELECT raw FROM events WHERE event_id = $1`, [][]any{{string(e.ID)}}, func(int, []byte) { seen = true }); err != nil || !seen {
			t.Fatalf("the event written after the probes: seen %v, %v", seen, err)
		}
	}
	t.Logf("%d of 20 runs cut short by their context", cut)
	if cut == 0 {
		t.Error("no run was cut short: the interrupt was not tested")
	}
}
