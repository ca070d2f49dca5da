package store_test

import (
	"context"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// What withdrew a message is a field, read the same way by every query:
// a user's m.room.redaction, the operator's takedown (stored under an ID no
// Matrix event can have), or the sender's opt-out (never stored).
func TestRedactionKind(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st,
			mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"one"}`),
			mk(t, "$m2", "m.room.message", "@alice:example.org", 2001, nil, `{"msgtype":"m.text","body":"two"}`),
			mk(t, "$r1", "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$m1","reason":"typo"}`))
		if err := st.Takedown(ctx, "$m2", "court order"); err != nil {
			t.Fatal(err)
		}
		want := map[id.EventID]store.RedactionKind{"$m1": store.RedactionByUser, "$m2": store.RedactionTakedown}
		got, err := st.RedactionsOf(ctx, []id.EventID{"$m1", "$m2"})
		if err != nil {
			t.Fatal(err)
		}
		for ev, k := range want {
			if got[ev].Kind != k {
				t.Errorf("RedactionsOf %s: kind %v, want %v", ev, got[ev].Kind, k)
			}
		}
		list, err := st.RoomRedactions(ctx, room, 0, "", 10)
		if err != nil || len(list) != 2 {
			t.Fatalf("RoomRedactions: %d, %v", len(list), err)
		}
		for _, r := range list {
			if r.Kind != want[r.TargetID] {
				t.Errorf("RoomRedactions %s: kind %v, want %v", r.TargetID, r.Kind, want[r.TargetID])
			}
		}
		// Stored IDs stay as existing databases hold them.
		if got["$m2"].RedactionID != "takedown:$m2" || got["$m1"].RedactionID != "$r1" {
			t.Errorf("redaction IDs %q %q", got["$m1"].RedactionID, got["$m2"].RedactionID)
		}
		m1, err := st.EventByID(ctx, "$m1")
		if err != nil {
			t.Fatal(err)
		}
		if o := store.OptOutRedaction(m1); o.Kind != store.RedactionOptOut || o.TargetID != "$m1" || o.Reason != "" {
			t.Errorf("OptOutRedaction = %+v", o)
		}
	})
}
