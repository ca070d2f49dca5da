package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRelatedInRangeAgreesWithRelated: the relations of a day's events
// read by the day's range are exactly those read by the events' IDs, for
// every range of the room: an edit, reaction or thread reply sent days
// after its target (or before it: the sender picks origin_server_ts) is
// found with the target's day, not its own; one claiming a target in
// another room, a forged edit and a redacted reaction are not; the cap per
// target and kind holds.
func TestRelatedInRangeAgreesWithRelated(t *testing.T) {
	const day = int64(86400000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		// Messages on days 1 to 3, several in the same millisecond.
		for i := range 30 {
			evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@alice:example.org", day*int64(1+i/10)+int64(i/2), nil,
				fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
		}
		put(t, st, evs...)
		var rel []store.Event
		rel = append(rel,
			// Late: on day 5, of day 1's and day 2's messages.
			mk(t, "$lateedit", "m.room.message", "@alice:example.org", 5*day, nil,
				`{"msgtype":"m.text","body":"* late","m.new_content":{"msgtype":"m.text","body":"late"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m3"}}`),
			mk(t, "$latereact", "m.reaction", "@bob:example.org", 5*day+1, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m12","key":"👍"}}`),
			mk(t, "$latethread", "m.room.message", "@bob:example.org", 5*day+2, nil, `{"msgtype":"m.text","body":"much later","m.relates_to":{"rel_type":"m.thread","event_id":"$m4"}}`),
			// Early: dated before its target.
			mk(t, "$earlyreact", "m.reaction", "@bob:example.org", 10, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m25","key":"ok"}}`),
			// Not relations of this room's messages as shown.
			mk(t, "$forged", "m.room.message", "@eve:example.org", day+5, nil,
				`{"msgtype":"m.text","body":"* forged","m.new_content":{"msgtype":"m.text","body":"forged"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m3"}}`),
			mk(t, "$gone", "m.reaction", "@bob:example.org", day+6, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m3","key":"x"}}`),
		)
		elsewhere := mk(t, "$elsewhere", "m.reaction", "@eve:example.org", day+7, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m3","key":"y"}}`)
		elsewhere.RoomID = "!other:example.org"
		rel = append(rel, elsewhere)
		for i := range store.MaxRelated + 5 {
			rel = append(rel, mk(t, fmt.Sprintf("$many%d", i), "m.reaction", fmt.Sprintf("@u%d:example.org", i), 3*day+int64(i), nil,
				`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m15","key":"🎉"}}`))
		}
		put(t, st, rel...)
		put(t, st, mk(t, "$redact", "m.room.redaction", "@bob:example.org", day+8, nil, `{"redacts":"$gone"}`))

		all, _, err := st.DayPage(ctx, room, 0, 10*day, store.Position{}, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []store.Event
		for _, e := range all {
			if e.Type == "m.room.message" {
				msgs = append(msgs, e)
			}
		}
		if len(msgs) != 31 { // 30 and the late thread reply
			t.Fatalf("%d messages, want 31", len(msgs))
		}
		found := map[id.EventID]bool{}
		// Every range of consecutive messages of lengths 1, 7 and all.
		for _, n := range []int{1, 7, len(msgs)} {
			for i := 0; i+n <= len(msgs); i++ {
				page := msgs[i : i+n]
				var ids []id.EventID
				for _, e := range page {
					ids = append(ids, e.ID)
				}
				want, err := st.Related(ctx, ids)
				if err != nil {
					t.Fatal(err)
				}
				got, err := st.RelatedIn(ctx, room, store.PositionOf(page[0]), store.PositionOf(page[n-1]))
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(relIDs(got), relIDs(want)) {
					t.Errorf("messages %d to %d: by range %d events %.300v, by ID %d events %.300v", i, i+n-1, len(got), relIDs(got), len(want), relIDs(want))
				}
				for _, e := range got {
					found[e.ID] = true
				}
			}
		}
		for _, want := range []id.EventID{"$lateedit", "$latereact", "$latethread", "$earlyreact", "$many504"} {
			if !found[want] {
				t.Errorf("%s never found", want)
			}
		}
		for _, not := range []id.EventID{"$forged", "$gone", "$elsewhere", "$many0"} {
			if found[not] {
				t.Errorf("%s found", not)
			}
		}
	})
}

// relIDs lists events' IDs with their targets, in order.
func relIDs(evs []store.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, string(e.ID)+"→"+string(e.Rel.EventID))
	}
	return out
}
