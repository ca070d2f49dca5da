package store_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedIsBounded: one message with more reactions and thread
// replies than MaxRelated loads MaxRelated of each, the latest to arrive;
// edits by anyone but the original's sender (never valid) are not loaded,
// so they cannot push the valid ones out; another message's relations are
// unaffected.
func TestRelatedIsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := append(baseRoom(t),
			mk(t, "$target", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"popular"}`),
			mk(t, "$quiet", "m.room.message", "@alice:example.org", 2001, nil, `{"msgtype":"m.text","body":"quiet"}`),
			mk(t, "$edit", "m.room.message", "@alice:example.org", 2002, nil,
				`{"msgtype":"m.text","body":"* fixed","m.new_content":{"msgtype":"m.text","body":"fixed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$target"}}`),
			mk(t, "$quietreact", "m.reaction", "@bob:example.org", 2003, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$quiet","key":"ok"}}`),
		)
		extra := store.MaxRelated + 25
		for i := range extra {
			// Timestamps run backwards: arrival, not the sender's clock,
			// decides which are kept.
			ts := int64(900000 - i)
			evs = append(evs,
				mk(t, fmt.Sprintf("$react%d", i), "m.reaction", fmt.Sprintf("@u%d:example.org", i), ts, nil,
					`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$target","key":"👍"}}`),
				mk(t, fmt.Sprintf("$reply%d", i), "m.room.message", fmt.Sprintf("@u%d:example.org", i), ts, nil,
					`{"msgtype":"m.text","body":"me too","m.relates_to":{"rel_type":"m.thread","event_id":"$target"}}`),
				mk(t, fmt.Sprintf("$fake%d", i), "m.room.message", "@eve:example.org", ts, nil,
					`{"msgtype":"m.text","body":"* forged","m.new_content":{"msgtype":"m.text","body":"forged"},"m.relates_to":{"rel_type":"m.replace","event_id":"$target"}}`),
			)
		}
		put(t, st, evs...)
		rel, err := st.Related(ctx, []id.EventID{"$target", "$quiet"})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		seen := map[id.EventID]bool{}
		for _, e := range rel {
			count[string(e.Rel.EventID)+" "+e.Rel.Type]++
			seen[e.ID] = true
		}
		for key, want := range map[string]int{
			"$target m.annotation": store.MaxRelated, "$target m.thread": store.MaxRelated,
			"$target m.replace": 1, "$quiet m.annotation": 1,
		} {
			if count[key] != want {
				t.Errorf("%s: %d loaded, want %d (all: %v)", key, count[key], want, count)
			}
		}
		last := fmt.Sprintf("$react%d", extra-1)
		if !seen["$edit"] || !seen[id.EventID(last)] || seen["$react0"] {
			t.Errorf("kept: $edit %v, latest reaction %v, earliest reaction %v; want the edit and the latest", seen["$edit"], seen[id.EventID(last)], seen["$react0"])
		}
		// A day's read of the two keeps the same.
		inDay, err := st.RelatedIn(ctx, room, store.Position{TS: 2000}, store.Position{TS: 2001, NID: 1 << 62})
		if err != nil {
			t.Fatal(err)
		}
		if len(inDay) != len(rel) {
			t.Errorf("RelatedIn of their day read %d, Related %d", len(inDay), len(rel))
		}
		for _, e := range inDay {
			if !seen[e.ID] {
				t.Errorf("RelatedIn of their day read %s, which Related does not keep", e.ID)
			}
		}
	})
}

// TestRoomsUpTo: the directory's list stops at its limit and says so.
func TestRoomsUpTo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for i := range 3 {
			r := id.RoomID(fmt.Sprintf("!r%d:example.org", i))
			evs := []store.Event{
				mk(t, fmt.Sprintf("$c%d", i), "m.room.create", "@alice:example.org", 1000, sk(""), `{"room_version":"10"}`),
				mk(t, fmt.Sprintf("$h%d", i), "m.room.history_visibility", "@alice:example.org", 1001, sk(""), `{"history_visibility":"world_readable"}`),
				mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"hi"}`),
			}
			for j := range evs {
				evs[j].RoomID = r
			}
			put(t, st, evs...)
		}
		for _, tc := range []struct {
			limit, want int
			more        bool
		}{{2, 2, true}, {3, 3, false}, {10, 3, false}} {
			rooms, more, err := st.RoomsUpTo(ctx, tc.limit)
			if err != nil || len(rooms) != tc.want || more != tc.more {
				t.Errorf("RoomsUpTo(%d) = %d rooms, more %v, %v; want %d, %v", tc.limit, len(rooms), more, err, tc.want, tc.more)
			}
			if len(rooms) > 0 && rooms[0].ID != "!r2:example.org" {
				t.Errorf("RoomsUpTo(%d) starts with %s, want the most recently active", tc.limit, rooms[0].ID)
			}
		}
	})
}
