package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A joined room whose backfill failed is due again after its back-off, and
// not once complete; pending joins survive in the store until done.
func TestBackfillDueAndPendingJoins(t *testing.T) {
	storetest.EachWith(t, store.Options{Bot: "@archive:example.org"}, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$bot", "m.room.member", "@archive:example.org", 1006, sk("@archive:example.org"), `{"membership":"join"}`))...)
		now := time.Now()
		due := func(at time.Time) bool {
			t.Helper()
			rooms, err := st.BackfillDue(ctx, at, 10)
			if err != nil {
				t.Fatal(err)
			}
			return slices.Contains(rooms, room)
		}
		if !due(now) {
			t.Error("a joined room never backfilled is not due")
		}
		rs, _ := st.RoomSync(ctx, room)
		rs.Backfill, rs.BackfillAttempts, rs.BackfillNextAt, rs.BackfillError = store.BackfillFailed, 1, now.Add(time.Minute), "homeserver answered 502"
		if err := st.SetRoomSync(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if due(now) {
			t.Error("a failed backfill is due before its back-off ends")
		}
		if !due(now.Add(2 * time.Minute)) {
			t.Error("a failed backfill is not due after its back-off")
		}
		got, _ := st.RoomSync(ctx, room)
		if got.Backfill != store.BackfillFailed || got.BackfillAttempts != 1 || got.BackfillError != rs.BackfillError ||
			got.BackfillNextAt.UnixMilli() != rs.BackfillNextAt.UnixMilli() {
			t.Errorf("room sync read back as %+v", got)
		}
		rs.Backfill = store.BackfillComplete
		if err := st.SetRoomSync(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if due(now.Add(time.Hour)) {
			t.Error("a complete backfill is due")
		}

		p := store.PendingJoin{Target: "!next:example.org", Kind: "tombstone", Predecessor: room, Via: []string{"a.org", "b.org"}}
		if err := st.AddPendingJoin(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := st.AddPendingJoin(ctx, store.PendingJoin{Target: "!next:example.org", Kind: "invite", Inviter: "@x:example.org"}); err != nil {
			t.Fatal(err)
		}
		pend, err := st.DuePendingJoins(ctx, time.Now().Add(time.Second), 10)
		if err != nil || len(pend) != 1 || pend[0].Kind != "tombstone" || pend[0].Predecessor != room || !slices.Equal(pend[0].Via, p.Via) {
			t.Fatalf("pending joins = %+v, %v", pend, err)
		}
		if err := st.PostponePendingJoin(ctx, p.Target, time.Now().Add(time.Hour), "502"); err != nil {
			t.Fatal(err)
		}
		if pend, _ := st.DuePendingJoins(ctx, time.Now().Add(time.Second), 10); len(pend) != 0 {
			t.Errorf("a postponed join is due: %+v", pend)
		}
		pend, _ = st.DuePendingJoins(ctx, time.Now().Add(2*time.Hour), 10)
		if len(pend) != 1 || pend[0].Attempts != 1 || pend[0].LastError != "502" {
			t.Errorf("postponed join = %+v", pend)
		}
		if err := st.DonePendingJoin(ctx, p.Target); err != nil {
			t.Fatal(err)
		}
		if pend, _ := st.DuePendingJoins(ctx, time.Now().Add(2*time.Hour), 10); len(pend) != 0 {
			t.Errorf("a done join is still pending: %+v", pend)
		}
	})
}
