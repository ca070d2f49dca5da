package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A redaction rejected for want of power is judged again when power-level
// state arrives that was in force when it was sent (a backfill, a sweep).
func TestRejectedRedactionReconsideredWhenStateArrives(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$m", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"spam"}`),
			// @helper:other.org holds no power yet as far as the archive knows.
			mk(t, "$r", "m.room.redaction", "@helper:other.org", 5000, nil, `{"redacts":"$m","reason":"spam"}`),
		)...)
		if e, _ := st.EventByID(ctx, "$m"); e.Redacted {
			t.Fatal("a redaction without power was applied")
		}
		// The power levels that made @helper a moderator at 4000 arrive.
		res := put(t, st, mk(t, "$pl2", "m.room.power_levels", "@alice:example.org", 4000, sk(""),
			`{"users":{"@alice:example.org":100,"@mod:other.org":50,"@helper:other.org":50},"redact":50}`))
		if e, _ := st.EventByID(ctx, "$m"); !e.Redacted {
			t.Error("the rejected redaction was not reconsidered when the power levels in force at it arrived")
		}
		if r, err := st.RedactionOf(ctx, "$m"); err != nil || r.Rejected || r.AppliedAt.IsZero() || res.RedactionsApplied != 1 {
			t.Errorf("redaction = %+v, %v (%+v); want applied", r, err, res)
		}
	})
}

// Without the room's create event the room version is unknown: a
// redaction that only room version 1's rules would allow (same event-ID
// domain, no power) waits for it instead of being judged as version 1.
func TestRedactionWaitsForTheRoomVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		res := put(t, st,
			mk(t, "$pl:example.org", "m.room.power_levels", "@alice:example.org", 1001, sk(""), `{"users":{"@alice:example.org":100},"redact":50}`),
			mk(t, "$hv:example.org", "m.room.history_visibility", "@alice:example.org", 1002, sk(""), `{"history_visibility":"world_readable"}`),
			mk(t, "$m:example.org", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hello"}`),
			mk(t, "$r:example.org", "m.room.redaction", "@mallory:evil.org", 3000, nil, `{"redacts":"$m:example.org"}`),
		)
		if e, _ := st.EventByID(ctx, "$m:example.org"); e.Redacted {
			t.Fatal("a redaction was applied by version 1's rules in a room of unknown version")
		}
		if res.RedactionsPending != 1 || res.RedactionsInvalid != 0 {
			t.Errorf("put = %+v; want the redaction pending", res)
		}
		// The create event says version 10: mallory (another server, no
		// power) may not redact alice's message.
		res = put(t, st, mk(t, "$create:example.org", "m.room.create", "@alice:example.org", 1000, sk(""), `{"room_version":"10"}`))
		if e, _ := st.EventByID(ctx, "$m:example.org"); e.Redacted {
			t.Error("a v10 room's message was redacted by a powerless user of another server")
		}
		if res.RedactionsInvalid != 1 {
			t.Errorf("put = %+v; want the redaction judged (and rejected) once the version is known", res)
		}
	})
}
