package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The current-state rule (stateTimeSQL: min(origin_ts, received_at)) was
// not applied to archive_controls (store/controls.go archiveControlsSQL,
// store/rooms.go latestControlsSQL), which still order by origin_ts: an
// archive_controls stamped in 2100 asking not to be archived or listed
// outlives the owner's later change, the very bug 106b91c mends for
// history_visibility.
func TestFutureStampedArchiveControlsDoNotOutliveLaterOnes(t *testing.T) {
	year2100 := int64(4102444800000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		now := time.Now().UnixMilli()
		put(t, st, mk(t, "$acx", "m.room.archive_controls", "@mallory:other.org", year2100, sk(""), `{"archive":false,"robots":["noindex"]}`))
		put(t, st, mk(t, "$acok", "m.room.archive_controls", "@alice:example.org", now+1000, sk(""), `{"archive":true}`))
		controls, err := st.ArchiveControls(ctx, []id.RoomID{room})
		if err != nil {
			t.Fatal(err)
		}
		if ac := controls[room]; ac.Unlisted || len(ac.Robots) > 0 {
			t.Errorf("the owner's archive_controls after one stamped in 2100: %+v; want the owner's (listed, no robots rule)", ac)
		}
		_, unlisted, err := st.RoomsByIDListed(ctx, []id.RoomID{room})
		if err != nil {
			t.Fatal(err)
		}
		if unlisted[room] {
			t.Errorf("RoomsByIDListed: the room is unlisted by the archive_controls stamped in 2100")
		}
	})
}

// Reading a room's current topic (CurrentState; refreshRoom reads ten
// such on every summary state event) costs in proportion to the topics the
// room ever sent: stateTimeSQL's ORDER BY is no index order (see
// TestCurrentStateIsAnIndexProbe). At 1560de6 it was one index probe.
func TestCurrentStateCostDoesNotGrowWithHistory(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	put(t, st, baseRoom(t)...)
	const ts0 = int64(1_700_000_000_000)
	n := 0
	topics := func(k int) {
		var evs []store.Event
		for range k {
			n++
			evs = append(evs, mk(t, fmt.Sprintf("$t%d", n), "m.room.topic", "@alice:example.org", ts0+int64(n), sk(""), `{"topic":"t"}`))
		}
		put(t, st, evs...)
	}
	read := func() time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			if _, err := st.CurrentState(ctx, room, "m.room.topic", ""); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	topics(100)
	small := read()
	for range 6 {
		topics(10000)
	}
	big := read()
	t.Logf("current topic after 100 topics: %v; after 60,100: %v", small, big)
	if big > 10*small {
		t.Errorf("reading the current topic costs %v after 60,100 topics, %v after 100", big, small)
	}
}
