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

		all, _, err := st.DayPage(ctx, room, 0, 10*day, store.Position{}, 1000, 0)
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

// TestRelatedInWhateverCameFirst: RelatedIn finds a message's relations
// whichever arrived first and however they were batched (a reaction
// backfilled before its target, both in one batch in either order, a
// target sent again), as Related does by IDs: RelatedIn walks only the
// events some relation names (events.related), which the writer must
// keep for every order.
func TestRelatedInWhateverCameFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		msg := func(evID string, ts int64) store.Event {
			return mk(t, evID, "m.room.message", "@alice:example.org", ts, nil, `{"msgtype":"m.text","body":"hello"}`)
		}
		react := func(evID, target string, ts int64) store.Event {
			return mk(t, evID, "m.reaction", "@bob:example.org", ts, nil,
				fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"👍"}}`, target))
		}
		edit := mk(t, "$edit2", "m.room.message", "@alice:example.org", 9000, nil,
			`{"msgtype":"m.text","body":"* changed","m.new_content":{"msgtype":"m.text","body":"changed"},"m.relates_to":{"rel_type":"m.replace","event_id":"$t2"}}`)
		// Relations before their targets, in an earlier batch.
		put(t, st, react("$r1", "$t1", 9001), edit)
		// In one batch, relation first and target first.
		put(t, st, react("$r3", "$t3", 9002), msg("$t3", 2003), msg("$t4", 2004), react("$r4", "$t4", 9003))
		// The targets of the first batch and a message nothing relates to
		// (yet), then one of them again with a new relation.
		put(t, st, msg("$t1", 2001), msg("$t2", 2002), msg("$t5", 2005))
		put(t, st, msg("$t1", 2001), react("$r1b", "$t1", 9004))
		// A relation of one batch to a target of another, later batch,
		// and the reverse.
		put(t, st, react("$r6", "$t6", 9005))
		put(t, st, msg("$t6", 2006), msg("$t7", 2007))
		put(t, st, react("$r5", "$t5", 9006))

		ids := []id.EventID{"$t1", "$t2", "$t3", "$t4", "$t5", "$t6", "$t7"}
		want, err := st.Related(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.RelatedIn(ctx, room, store.Position{TS: 2000}, store.Position{TS: 2100})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(relIDs(got), relIDs(want)) {
			t.Errorf("by range %v, by ID %v", relIDs(got), relIDs(want))
		}
		if len(want) != 7 {
			t.Errorf("Related found %v, want the seven relations", relIDs(want))
		}
	})
}
