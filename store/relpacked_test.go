package store_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRoomEventColumnsAsEventColumns: a day page and a day's relations
// read a room's events with the state key and relation columns packed in
// one (relPackedSQL), and must read every event as EventByID reads it from
// the columns themselves: a state key absent, empty or multi-byte, each
// kind of relation, a reply, a reaction's multi-byte key.
func TestRoomEventColumnsAsEventColumns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := append(baseRoom(t),
			mk(t, "$topic", "m.room.topic", "@alice:example.org", 2000, sk(""), `{"topic":"t"}`),
			mk(t, "$member", "m.room.member", "@zoë:example.org", 2001, sk("@zoë:example.org"), `{"membership":"join","displayname":"Zoë"}`),
			mk(t, "$odd", "org.example.state", "@alice:example.org", 2002, sk("a,b:c-1"), `{}`),
			mk(t, "$root", "m.room.message", "@alice:example.org", 2003, nil, `{"msgtype":"m.text","body":"root"}`),
			mk(t, "$reply", "m.room.message", "@bob:other.org", 2004, nil,
				`{"msgtype":"m.text","body":"> root\n\nreply","m.relates_to":{"m.in_reply_to":{"event_id":"$root"}}}`),
			mk(t, "$thread", "m.room.message", "@bob:other.org", 2005, nil,
				`{"msgtype":"m.text","body":"in thread","m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$root"}}}`),
			mk(t, "$edit", "m.room.message", "@alice:example.org", 2006, nil,
				`{"msgtype":"m.text","body":"* root2","m.new_content":{"msgtype":"m.text","body":"root2"},"m.relates_to":{"rel_type":"m.replace","event_id":"$root"}}`),
			mk(t, "$react", "m.reaction", "@bob:other.org", 2007, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$root","key":"👍🏽"}}`),
			mk(t, "$ref", "m.room.message", "@bob:other.org", 2008, nil,
				`{"msgtype":"m.text","body":"see","m.relates_to":{"rel_type":"m.reference","event_id":"$reply"}}`),
		)
		put(t, st, evs...)
		page, _, err := st.DayPage(ctx, "!room:example.org", 0, math.MaxInt64/2, store.Position{}, 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		related, err := st.RelatedIn(ctx, "!room:example.org", store.PositionOf(page[0]), store.PositionOf(page[len(page)-1]))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, got := range append(page, related...) {
			want, err := st.EventByID(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Only eventColumns read these two.
			want.ReceivedAt = got.ReceivedAt
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s read with the room's columns:\n%+v\nwith every column:\n%+v", got.ID, got, want)
			}
			seen[string(got.ID)] = true
		}
		for _, id := range []string{"$create", "$topic", "$member", "$odd", "$root", "$reply", "$thread", "$edit", "$react", "$ref"} {
			if !seen[id] {
				t.Errorf("%s was not read", id)
			}
		}
	})
}
