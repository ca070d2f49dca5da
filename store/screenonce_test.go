package store_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A ScreenOnce context inside another for the same store keeps the outer
// one's snapshot: a search run under a web request's context (which has
// already looked at the feed) looks no more, and its reads screen as the
// request's other reads do. A new request looks again.
func TestScreenOnceNests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		bg := context.Background()
		put(t, st, append(baseRoom(t), mk(t, "$m1", "m.room.message", "@bob:example.org", 5000, nil, `{"msgtype":"m.text","body":"hi"}`))...)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		read := func(ctx context.Context) (store.Event, int64) {
			t.Helper()
			before := count()
			evs, err := st.EventsByID(ctx, []id.EventID{"$m1"})
			if err != nil || len(evs) != 1 {
				t.Fatalf("EventsByID = %v, %v", evs, err)
			}
			return evs[0], count() - before
		}
		read(bg) // warm: the process's copy of opt-outs and policies
		outer := st.ScreenOnce(bg)
		if _, n := read(outer); n != 2 {
			t.Fatalf("first read under ScreenOnce: %d queries, want 2 (the feed, the events)", n)
		}
		if _, err := st.OptOut(bg, "@bob:example.org", "dm"); err != nil {
			t.Fatal(err)
		}
		inner := st.ScreenOnce(outer)
		e, n := read(inner)
		if n != 1 {
			t.Errorf("read under a nested ScreenOnce: %d queries, want 1 (the outer one looked at the feed)", n)
		}
		if e.OptedOut {
			t.Error("a nested ScreenOnce screened with a newer snapshot than its request's")
		}
		if e, _ := read(st.ScreenOnce(bg)); !e.OptedOut {
			t.Error("a new request's read does not see the opt-out")
		}
	})
}
