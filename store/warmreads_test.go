package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestWarmReadsReadiesEveryConnection: the reads made with a NoteReads
// context on archive-web's PostgreSQL store are noted, each text once,
// and WarmReads runs them on every connection the pool holds, so that
// each of those sessions has them prepared and planned before a page
// asks. A read made with another context is not noted, nor is anything
// on the archiver's store, and on SQLite WarmReads does nothing.
func TestWarmReadsReadiesEveryConnection(t *testing.T) {
	ctx := context.Background()
	cfg := store.Config{Type: "postgres", URI: pgtest.NewDatabase(t)}
	w, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := baseRoom(t)
	for i := range 20 {
		evs = append(evs, mk(t, "$m"+string(rune('a'+i)), "m.room.message", "@alice:example.org", d0+int64(i)*1000, nil, `{"msgtype":"m.text","body":"hi"}`))
	}
	put(t, w, evs...)

	r, err := store.Open(ctx, cfg, t.TempDir(), storetest.Logger(t), store.Options{ReadMostly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	day := func(ctx context.Context, st *store.Store) {
		t.Helper()
		page, _, err := st.DayPage(ctx, room, d0, d0+dayMS, store.Position{}, 100, 0)
		if err != nil || len(page) != 20 {
			t.Fatalf("day page: %d events, %v", len(page), err)
		}
		if _, err := st.RelatedIn(ctx, room, store.PositionOf(page[0]), store.PositionOf(page[len(page)-1])); err != nil {
			t.Fatal(err)
		}
	}
	nctx, notes := store.NoteReads(ctx)
	day(nctx, w) // the archiver's store notes nothing
	if n := notes.Len(); n != 0 {
		t.Fatalf("the archiver's store noted %d reads: %q", n, notes.Texts())
	}
	day(nctx, r)
	day(nctx, r) // each text once
	texts := notes.Texts()
	if len(texts) < 2 || len(slices.Compact(slices.Sorted(slices.Values(texts)))) != len(texts) {
		t.Fatalf("noted %q: want the day's read and its relations' once each", texts)
	}
	day(ctx, r) // another context: not noted
	if notes.Len() != len(texts) {
		t.Fatalf("reads with another context were noted: %q", notes.Texts())
	}

	const conns = 3
	warmed, err := r.WarmReads(ctx, notes, conns)
	if err != nil {
		t.Fatal(err)
	}
	if warmed < conns {
		t.Fatalf("warmed %d connections, want at least %d", warmed, conns)
	}
	// Every session the pool holds has each noted read prepared and
	// planned: pg_prepared_statements is each session's own.
	for i, c := range holdConns(t, r, warmed) {
		rows, err := c.QueryContext(ctx, `SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements`)
		if err != nil {
			t.Fatal(err)
		}
		planned := map[string]int64{}
		for rows.Next() {
			var s string
			var n int64
			if err := rows.Scan(&s, &n); err != nil {
				t.Fatal(err)
			}
			planned[s] = n
		}
		rows.Close()
		for _, q := range texts {
			if planned[q] < 1 {
				t.Errorf("session %d: %.60q… prepared %v, planned %d times", i, q, func() bool { _, ok := planned[q]; return ok }(), planned[q])
			}
		}
		c.Close()
	}

	// On SQLite there is nothing to warm.
	lite := storetest.OpenWith(t, "sqlite", store.Options{ReadMostly: true})
	lctx, lnotes := store.NoteReads(ctx)
	if _, _, err := lite.DayPage(lctx, room, d0, d0+dayMS, store.Position{}, 100, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := lite.WarmReads(ctx, lnotes, conns); n != 0 || err != nil {
		t.Errorf("SQLite: WarmReads warmed %d connections (%v), want none", n, err)
	}
}
