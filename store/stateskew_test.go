package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// stateTimeSQL compares one event's time on the archive's clock with
// another's on its sender's. The archive's clock runs 10 minutes behind
// (an honest host whose NTP failed); the rooms' servers are right. The
// owner made the history joined at T-5m, then world_readable at T. The
// world_readable came live (received_at T-10m on the archive's clock, so
// its state time is T-10m); the joined was missed and came later by
// backfill (received_at T+50m, state time its origin, T-5m). The older
// joined is now the room's current state, and the room is hidden, though
// the owner's latest word was world_readable. Ordered by origin_ts, as
// before 106b91c, it was right.
func TestArchiveClockBehindKeepsLaterState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		T := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
		skew := -10 * time.Minute
		clock := T.Add(skew)
		st.SetNow(func() time.Time { return clock })
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$wr", "m.room.history_visibility", "@alice:example.org", T.UnixMilli(), sk(""), `{"history_visibility":"world_readable"}`))
		clock = T.Add(time.Hour).Add(skew)
		put(t, st, mk(t, "$joined", "m.room.history_visibility", "@alice:example.org", T.Add(-5*time.Minute).UnixMilli(), sk(""), `{"history_visibility":"joined"}`))
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.HistoryVisibility != "world_readable" {
			t.Errorf("current history visibility %q; want the owner's latest, world_readable (the older joined came by backfill)", r.HistoryVisibility)
		}
	})
}
