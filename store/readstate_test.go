package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRoomHeadIsAnIndexProbe: a room's newest change-feed position, which
// every repeated page asks for (store.ReadState), is read from the
// changes_room index on both databases (queryPlan), not by scanning the
// feed.
func TestRoomHeadIsAnIndexProbe(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.ReadStateSQL, "!x:example.org")
		if !strings.Contains(plan, "changes_room") {
			t.Errorf("a room's feed position is not read from the changes_room index:\n%s", plan)
		}
	})
}

// TestReadStateIsPerRoom: a change in another room moves neither of a
// room's positions; one in the room moves its own; an opt-out (no room's
// change) moves where screening stands.
func TestReadStateIsPerRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, mkIn(t, "!x:example.org", "$c", "m.room.create", 1000, sk(""), `{"room_version":"10"}`),
			mkIn(t, "!o:example.org", "$oc", "m.room.create", 1000, sk(""), `{"room_version":"10"}`))
		rs, err := st.ReadState(ctx, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		head, screened := rs.RoomHead, rs.Screened
		put(t, st, mkIn(t, "!o:example.org", "$om", "m.room.message", 2000, nil, `{"msgtype":"m.text","body":"elsewhere"}`))
		rs2, err := st.ReadState(ctx, "!x:example.org")
		h2, s2 := rs2.RoomHead, rs2.Screened
		if err != nil || h2 != head || s2 != screened {
			t.Errorf("after a change elsewhere: %d, %d (%v); before %d, %d", h2, s2, err, head, screened)
		}
		put(t, st, mkIn(t, "!x:example.org", "$xm", "m.room.message", 2000, nil, `{"msgtype":"m.text","body":"here"}`))
		rs3, err := st.ReadState(ctx, "!x:example.org")
		h3, s3 := rs3.RoomHead, rs3.Screened
		if err != nil || h3 <= h2 || s3 != s2 {
			t.Errorf("after a change here: %d, %d (%v); before %d, %d", h3, s3, err, h2, s2)
		}
		if _, err := st.OptOut(ctx, "@alice:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		rs4, err := st.ReadState(ctx, "!x:example.org")
		h4, s4 := rs4.RoomHead, rs4.Screened
		if err != nil || s4 <= s3 {
			t.Errorf("after an opt-out: %d, %d (%v); before %d, %d", h4, s4, err, h3, s3)
		}
	})
}
