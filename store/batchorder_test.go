package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A batch's events are stored, and their changes fed, in the batch's
// order: the timeline breaks a tie of origin_ts by the order the store
// took the events (nid), and the indexer takes the feed in its order. One
// batch of 2,500 messages in the same millisecond (more than one
// statement's rows on PostgreSQL), their IDs in no sorted order, comes
// back from a day page and from the feed as it was given.
func TestBatchKeepsItsOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		last, err := st.Changes(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var evs []store.Event
		var want []id.EventID
		for i := range 2500 {
			evID := fmt.Sprintf("$%04d-%d", (i*7919)%2500, i) // neither sorted nor reversed
			evs = append(evs, mk(t, evID, "m.room.message", "@alice:example.org", 5000, nil, fmt.Sprintf(`{"msgtype":"m.text","body":"line %d"}`, i)))
			want = append(want, id.EventID(evID))
		}
		if res := put(t, st, evs...); res.Stored != len(evs) {
			t.Fatalf("stored %d of %d", res.Stored, len(evs))
		}
		page, _, err := st.DayPage(ctx, room, 0, 86_400_000, store.Position{TS: 4999}, 3000, 0)
		if err != nil {
			t.Fatal(err)
		}
		var shown []id.EventID
		for _, e := range page {
			shown = append(shown, e.ID)
		}
		if !slices.Equal(shown, want) {
			t.Errorf("day page's order differs from the batch's: first %q, want %q", shown[:min(5, len(shown))], want[:5])
		}
		changes, err := st.Changes(ctx, last[len(last)-1].Pos, 5000)
		if err != nil {
			t.Fatal(err)
		}
		var fed []id.EventID
		for _, c := range changes {
			if c.Kind == store.ChangeStored {
				fed = append(fed, c.EventID)
			}
		}
		if !slices.Equal(fed, want) {
			t.Errorf("the feed's order differs from the batch's: first %q, want %q", fed[:min(5, len(fed))], want[:5])
		}
	})
}

// A batch of large events is written in several statements on PostgreSQL,
// each at most a few megabytes of their JSON, not as one array of all of
// them: a hostile room's backfill of 10,000 events of 64 KiB would have
// been one parameter of 640 MB. The same events, small, take one.
func TestLargeEventsSplitTheirInsert(t *testing.T) {
	statements := func(body int) int64 {
		st := storetest.Open(t, "postgres")
		put(t, st, baseRoom(t)...)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		var evs []store.Event
		for i := range 100 {
			evs = append(evs, mk(t, fmt.Sprintf("$big%d", i), "m.room.message", "@alice:example.org", 5000+int64(i), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"%d %s"}`, i, strings.Repeat("x", body))))
		}
		if res := put(t, st, evs...); res.Stored != len(evs) {
			t.Fatalf("stored %d of %d", res.Stored, len(evs))
		}
		return count()
	}
	small, large := statements(10), statements(60_000)
	if large <= small {
		t.Errorf("100 events of 60 kB took %d statements, as many as 100 of 10 bytes (%d): one insert of 6 MB", large, small)
	}
}
