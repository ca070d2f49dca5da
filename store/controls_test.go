package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// mkIn is mk for an event of another room.
func mkIn(t *testing.T, r id.RoomID, evID, typ string, ts int64, stateKey *string, content string) store.Event {
	t.Helper()
	return mkAt(t, r, evID, typ, "@alice:example.org", ts, stateKey, content)
}

// ArchiveControls reads, for many rooms at once, what each room's latest
// MSC4021 archive_controls asks: the stable type over the unstable one,
// the latest event of a type over earlier ones (a redacted one asks
// nothing), and nothing for rooms without one or unknown.
func TestArchiveControls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var evs []store.Event
		room := func(r id.RoomID, n int, controls ...[2]string) {
			evs = append(evs,
				mkIn(t, r, fmt.Sprintf("$c%d", n), "m.room.create", 1000, sk(""), `{"room_version":"10"}`),
				mkIn(t, r, fmt.Sprintf("$h%d", n), "m.room.history_visibility", 1001, sk(""), `{"history_visibility":"world_readable"}`),
				mkIn(t, r, fmt.Sprintf("$m%d", n), "m.room.message", 1002, nil, `{"msgtype":"m.text","body":"hi"}`))
			for i, c := range controls {
				evs = append(evs, mkIn(t, r, fmt.Sprintf("$a%d-%d", n, i), c[0], int64(2000+i), sk(""), c[1]))
			}
		}
		const stable, unstable = event.TypeArchiveControls, event.TypeArchiveControlsUnstable
		room("!plain:example.org", 1)
		room("!unlisted:example.org", 2, [2]string{stable, `{"archive":false}`})
		room("!unstable:example.org", 3, [2]string{unstable, `{"archive":false,"robots":["noindex"]}`})
		room("!both:example.org", 4, [2]string{stable, `{"robots":["nofollow"]}`}, [2]string{unstable, `{"archive":false}`})
		room("!relisted:example.org", 5, [2]string{stable, `{"archive":false}`}, [2]string{stable, `{"archive":true}`})
		room("!redacted:example.org", 6, [2]string{stable, `{"archive":false}`})
		// Not the room's state: a state key, or a message of that type.
		room("!keyed:example.org", 7, [2]string{stable, `{"archive":false}`})
		evs[len(evs)-1].StateKey = sk("x")
		put(t, st, evs...)
		put(t, st, mkIn(t, "!redacted:example.org", "$red", "m.room.redaction", 3000, nil, `{"redacts":"$a6-0"}`))

		ids := []id.RoomID{"!plain:example.org", "!unlisted:example.org", "!unstable:example.org", "!both:example.org",
			"!relisted:example.org", "!redacted:example.org", "!keyed:example.org", "!unknown:example.org"}
		// More IDs than one query takes, to cover the chunks.
		for i := range 1200 {
			ids = append(ids, id.RoomID(fmt.Sprintf("!filler%d:example.org", i)))
		}
		got, err := st.ArchiveControls(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		want := map[id.RoomID]string{
			"!unlisted:example.org": "unlisted true robots []",
			"!unstable:example.org": "unlisted true robots [noindex]",
			"!both:example.org":     "unlisted false robots [nofollow]",
			"!relisted:example.org": "unlisted false robots []",
			"!redacted:example.org": "unlisted false robots []",
		}
		for _, r := range ids {
			ac, ok := got[r]
			g := ""
			if ok {
				g = fmt.Sprintf("unlisted %v robots %v", ac.Unlisted, ac.Robots)
			}
			if g != want[r] {
				t.Errorf("%s: %q, want %q", r, g, want[r])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d rooms with controls, want %d", len(got), len(want))
		}
		if got, err := st.ArchiveControls(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("no rooms: %v %v", got, err)
		}
	})
}

// A controls event that changes no room's listing (the same content again)
// leaves every process's screening position, which every page key holds
// (web/pagekey.go keyWith), where it was: it moved it, so anyone who may
// send state in an archived room could miss every room's cached pages at
// will. One that changes it moves it once.
func TestOnlyAControlsChangeMovesScreening(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		other := id.RoomID("!other:example.org")
		mko := func(evID, typ string, ts int64, key *string, content string) store.Event {
			e := mk(t, evID, typ, "@eve:example.org", ts, key, content)
			e.RoomID = other
			return e
		}
		put(t, st,
			mko("$ocreate", "m.room.create", 1000, sk(""), `{"room_version":"10","creator":"@eve:example.org"}`),
			mko("$ohv", "m.room.history_visibility", 1001, sk(""), `{"history_visibility":"world_readable"}`),
			mko("$ojoin", "m.room.member", 1002, sk("@eve:example.org"), `{"membership":"join"}`))
		rs0, err := st.ReadState(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		moved := 0
		prev := rs0.Screened
		const n = 20
		start := time.Now()
		for i := range n {
			put(t, st, mko(fmt.Sprintf("$ctl%d", i), "m.room.archive_controls", int64(2000+i), sk(""), `{"archive":true}`))
			rs, err := st.ReadState(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			if rs.Screened != prev {
				moved++
			}
			prev = rs.Screened
		}
		t.Logf("%d no-op controls events in another room: %d moved this room's screening position (%s)", n, moved, time.Since(start))
		if moved > 0 {
			t.Errorf("a controls event that changes no room's listing, in another room, moved this room's page keys %d times of %d", moved, n)
		}
		put(t, st, mko("$unlist", "m.room.archive_controls", 3000, sk(""), `{"archive":false}`))
		if rs, err := st.ReadState(ctx, room); err != nil || rs.Screened == prev {
			t.Errorf("a controls event that unlists a room left the screening position: %v", err)
		}
	})
}
