package store_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A batch of member events in many rooms costs what a batch of messages
// there costs: a room's summary (name, topic, visibility...) is read from
// other state, so nobody's join recomputes it, except the archive's own,
// which decides whether the room is shown. An import of many rooms'
// joins recomputed every touched room's summary once a batch, a dozen
// queries a room.
func TestMembersLeaveTheSummaryAlone(t *testing.T) {
	const bot = "@archive:example.org"
	storetest.EachWith(t, store.Options{Bot: bot}, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const rooms = 30
		in := func(r int, ev store.Event) store.Event {
			ev.RoomID = id.RoomID(fmt.Sprintf("!r%d:example.org", r))
			ev.ID = id.EventID(fmt.Sprintf("%s-%d", ev.ID, r))
			return ev
		}
		var setup []store.Event
		for r := range rooms {
			for _, ev := range baseRoom(t) {
				setup = append(setup, in(r, ev))
			}
			setup = append(setup, in(r, mk(t, "$bot", "m.room.member", bot, 1006, sk(bot), `{"membership":"join"}`)))
		}
		put(t, st, setup...)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		batch := func(f func(r int) store.Event) int64 {
			t.Helper()
			var evs []store.Event
			for r := range rooms {
				evs = append(evs, in(r, f(r)))
			}
			before := count()
			put(t, st, evs...)
			return count() - before
		}
		messages := batch(func(int) store.Event {
			return mk(t, "$m", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`)
		})
		joins := batch(func(int) store.Event {
			return mk(t, "$j", "m.room.member", "@bob:example.org", 2001, sk("@bob:example.org"), `{"membership":"join","displayname":"Bob"}`)
		})
		redactedJoins := batch(func(r int) store.Event {
			return mk(t, "$rj", "m.room.redaction", "@alice:example.org", 2002, nil, fmt.Sprintf(`{"redacts":"$j-%d"}`, r))
		})
		redactedMessages := batch(func(r int) store.Event {
			return mk(t, "$rm", "m.room.redaction", "@alice:example.org", 2003, nil, fmt.Sprintf(`{"redacts":"$m-%d"}`, r))
		})
		t.Logf("queries for a batch of %d rooms' messages %d, joins %d; redactions of the messages %d, of the joins %d",
			rooms, messages, joins, redactedMessages, redactedJoins)
		// A member event does a little more than a message (its name is
		// recorded, a redacted one withdraws it), never a room's worth.
		if joins > messages+rooms/2 {
			t.Errorf("a batch of joins in %d rooms took %d queries, messages %d: summaries recomputed", rooms, joins, messages)
		}
		if redactedJoins > redactedMessages+2*rooms {
			t.Errorf("redacting joins in %d rooms took %d queries, messages %d: summaries recomputed", rooms, redactedJoins, redactedMessages)
		}
		for r := range rooms {
			got, err := st.Room(ctx, id.RoomID(fmt.Sprintf("!r%d:example.org", r)))
			if err != nil || got.Name != "Test Room" || got.BotMembership != "join" || !got.Shown() {
				t.Fatalf("room %d = %+v, %v", r, got, err)
			}
		}

		// What the summary is made of still updates it: the archive's own
		// membership (the room is no longer shown), a name, a redacted topic.
		first := func(r store.Event) store.Event { return in(0, r) }
		put(t, st, first(mk(t, "$botleft", "m.room.member", bot, 3000, sk(bot), `{"membership":"leave"}`)),
			first(mk(t, "$name2", "m.room.name", "@alice:example.org", 3001, sk(""), `{"name":"Renamed"}`)),
			first(mk(t, "$topic", "m.room.topic", "@alice:example.org", 3002, sk(""), `{"topic":"rude"}`)))
		got, err := st.Room(ctx, "!r0:example.org")
		if err != nil || got.BotMembership != "leave" || got.Shown() || got.Name != "Renamed" || got.Topic != "rude" {
			t.Fatalf("room after the archive left, a rename and a topic = %+v, %v", got, err)
		}
		put(t, st, first(mk(t, "$rt", "m.room.redaction", "@alice:example.org", 3003, nil, `{"redacts":"$topic-0"}`)))
		if got, _ := st.Room(ctx, "!r0:example.org"); got.Topic != "" {
			t.Errorf("topic after its redaction = %q", got.Topic)
		}
		// A name with a state key is not the room's name.
		put(t, st, in(1, mk(t, "$keyed", "m.room.name", "@alice:example.org", 3004, sk("x"), `{"name":"Not this"}`)))
		if got, _ := st.Room(ctx, "!r1:example.org"); got.Name != "Test Room" {
			t.Errorf("a keyed m.room.name renamed the room: %q", got.Name)
		}
	})
}
