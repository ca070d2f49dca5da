package store_test

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A room's first and last times (the directory's last activity, the
// API's first_message and last_activity, the day its address opens on)
// are those of the messages and polls its pages show: an opted-out
// member's and a deleted message's do not set them, from the change on,
// and a member's count again once they opt back in. A member's redaction
// moves no time (chosen: taking a time back is a seek that passes over
// what is not shown below it, which an attacker redacting their own last
// message each time would have repeated; helper-96); the operator's
// takedown does.
func TestRoomTimesAreOfWhatIsShown(t *testing.T) {
	const alice, bob, carol = "@alice:example.org", "@bob:example.org", "@carol:example.org"
	msg := func(t *testing.T, evID, sender string, ts int64) store.Event {
		return mk(t, evID, "m.room.message", sender, ts, nil, fmt.Sprintf(`{"msgtype":"m.text","body":"%s says hi"}`, sender))
	}
	redact := func(t *testing.T, evID, sender string, ts int64, target string) store.Event {
		return mk(t, evID, "m.room.redaction", sender, ts, nil, fmt.Sprintf(`{"redacts":%q}`, target))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		check := func(step string, first, last int64) {
			t.Helper()
			r, err := st.Room(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			if r.FirstTS != first || r.LastTS != last {
				t.Errorf("%s: the room's times are %d to %d; want %d to %d", step, r.FirstTS, r.LastTS, first, last)
			}
		}
		put(t, st, baseRoom(t)...)
		put(t, st, msg(t, "$a1", alice, 2000), msg(t, "$c1", carol, 2003), msg(t, "$b1", bob, 3000))
		check("stored", 2000, 3000)
		if _, err := st.OptOut(ctx, bob, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		check("bob, who wrote last, opted out", 2000, 2003)
		put(t, st, msg(t, "$b2", bob, 4000))
		check("bob wrote while opted out", 2000, 2003)
		if _, err := st.OptIn(ctx, bob); err != nil {
			t.Fatal(err)
		}
		check("bob opted in", 2000, 4000)
		put(t, st, redact(t, "$rb2", bob, 4001, "$b2"))
		check("bob redacted his last message", 2000, 4000)
		put(t, st, msg(t, "$b3", bob, 5000), redact(t, "$rb3", bob, 5001, "$b3"))
		check("bob wrote and redacted a message in one batch", 2000, 5000)
		put(t, st, mk(t, "$poll", "m.poll.start", carol, 6000, nil,
			`{"m.poll":{"question":{"m.text":[{"body":"when?"}]},"answers":[{"m.id":"a","m.text":[{"body":"now"}]},{"m.id":"b","m.text":[{"body":"later"}]}]}}`))
		check("carol started a poll", 2000, 6000)
		put(t, st, redact(t, "$rpoll", carol, 6001, "$poll"))
		check("carol redacted her poll", 2000, 6000)
		if _, err := st.EraseUser(ctx, bob, false); err != nil {
			t.Fatal(err)
		}
		check("bob erased", 2000, 2003)
		if _, err := st.OptOut(ctx, alice, store.OptOutByOperator); err != nil {
			t.Fatal(err)
		}
		check("alice, who wrote first, opted out", 2003, 2003)
		if _, err := st.OptIn(ctx, alice); err != nil {
			t.Fatal(err)
		}
		check("alice opted in", 2000, 2003)
		if err := st.Takedown(ctx, "$a1", "spam"); err != nil {
			t.Fatal(err)
		}
		check("alice's message taken down", 2003, 2003)
		if err := st.Takedown(ctx, "$c1", "spam"); err != nil {
			t.Fatal(err)
		}
		check("the last message taken down", 0, 0)
	})
}

// An archive migrated from a version whose room times spanned what its
// pages do not show has them taken anew.
func TestMigrationTakesRoomTimesOfWhatIsShown(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			const other = id.RoomID("!other:example.org")
			st := migratedFrom(t, d, func(st *store.Store) {
				put(t, st, baseRoom(t)...)
				put(t, st,
					mk(t, "$first", "m.room.message", "@mallory:evil.org", 1500, nil, `{"msgtype":"m.text","body":"early"}`),
					mk(t, "$a1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`),
					mk(t, "$b1", "m.room.message", "@bob:example.org", 3000, nil, `{"msgtype":"m.text","body":"hi"}`),
					mk(t, "$b2", "m.room.message", "@bob:example.org", 4000, nil, `{"msgtype":"m.text","body":"bye"}`))
				put(t, st, mk(t, "$r", "m.room.redaction", "@bob:example.org", 4001, nil, `{"redacts":"$b2"}`))
				if _, err := st.OptOut(context.Background(), "@mallory:evil.org", store.OptOutByOperator); err != nil {
					t.Fatal(err)
				}
				put(t, st, mkAt(t, other, "$o1", "m.room.message", "@bob:example.org", 5000, nil, `{"msgtype":"m.text","body":"elsewhere"}`))
			},
				// As the writes before 038 left them.
				`UPDATE rooms SET first_ts = 1500, last_ts = 4000 WHERE room_id = '!room:example.org'`,
				`UPDATE schema_version SET version = 37`)
			for r, want := range map[id.RoomID][2]int64{room: {2000, 3000}, other: {5000, 5000}} {
				got, err := st.Room(context.Background(), r)
				if err != nil {
					t.Fatal(err)
				}
				if got.FirstTS != want[0] || got.LastTS != want[1] {
					t.Errorf("after migrating, %s's times are %d to %d; want %d to %d", r, got.FirstTS, got.LastTS, want[0], want[1])
				}
			}
		})
	}
}

// An opted-out member's writes take no room time anew: before, every
// batch with one of their messages did, a seek that passed over all they
// had written since (100,000 of them: 91.6 ms a write on SQLite, against
// 1.2 for an honest one; helper-96). Their message's batch now runs no
// more statements than an honest member's.
func TestOptedOutMembersWritesTakeNoTimeAnew(t *testing.T) {
	const mallory, alice = "@mallory:evil.org", "@alice:example.org"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$a0", "m.room.message", alice, 5000, nil, `{"msgtype":"m.text","body":"hi"}`))
		if _, err := st.OptOut(ctx, mallory, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		statements := func(evID, sender string, ts int64) int64 {
			count, err := st.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			put(t, st, mk(t, evID, "m.room.message", sender, ts, nil, `{"msgtype":"m.text","body":"x"}`))
			return count()
		}
		for i := range 3 {
			spam := statements(fmt.Sprintf("$m%d", i), mallory, int64(6000+i))
			honest := statements(fmt.Sprintf("$h%d", i), alice, int64(7000+i))
			if spam > honest {
				t.Errorf("an opted-out member's message took %d statements, an honest one's %d", spam, honest)
			}
		}
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.FirstTS != 5000 || r.LastTS != 7002 {
			t.Errorf("the room's times are %d to %d; want 5000 to 7002", r.FirstTS, r.LastTS)
		}
	})
}

// A message stamped 0 (1970-01-01T00:00:00.000, which the event format
// allows) is stored at the millisecond after: a room's first time of 0
// is "none yet", so the next batch set the room's first time past every
// message shown before it, which no later retime found again
// (helper-97).
func TestEpochStampedMessageKeepsItsRoomsFirstTime(t *testing.T) {
	const alice, mallory = "@alice:example.org", "@mallory:evil.example"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$a1", "m.room.message", alice, 5000, nil, `{"msgtype":"m.text","body":"hi"}`))
		if _, err := st.PutEventsFrom(ctx, store.SourceBackfill, []store.Event{
			mk(t, "$m0", "m.room.message", mallory, 0, nil, `{"msgtype":"m.text","body":"epoch"}`)}); err != nil {
			t.Fatal(err)
		}
		put(t, st, mk(t, "$a2", "m.room.message", alice, 7000, nil, `{"msgtype":"m.text","body":"again"}`))
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.FirstTS != 1 || r.LastTS != 7000 {
			t.Errorf("the room's times are %d to %d; want 1 (the epoch message's, stored at 1) to 7000", r.FirstTS, r.LastTS)
		}
		if err := st.Takedown(ctx, "$m0", "spam"); err != nil {
			t.Fatal(err)
		}
		if r, err = st.Room(ctx, room); err != nil {
			t.Fatal(err)
		}
		if r.FirstTS != 5000 || r.LastTS != 7000 {
			t.Errorf("after the epoch message was taken down, the room's times are %d to %d; want 5000 (alice's first, shown) to 7000", r.FirstTS, r.LastTS)
		}
	})
}
