package store_test

import (
	"context"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// History read back (a backfill, a sweep, an import) keeps the time its
// messages claim, but a message stamped more than an hour after the
// archive read it was sent before that, not when it says: it is not the
// room's latest. One stamped in 2100 made its room the directory's most
// recently active for good (rooms sort by their last message), sent a
// reader of the room's address (/room/{room}) to 2100, where it is alone,
// and topped the room's feed. It stays stored, on its own day.
func TestFutureStampedHistoryDoesNotPinItsRoom(t *testing.T) {
	const year2100 = int64(4102444800000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		now := time.Now().UnixMilli()
		fast := now + 30*60*1000
		put(t, st,
			mk(t, "$old", "m.room.message", "@bob:example.org", 3000, nil, `{"msgtype":"m.text","body":"an old message"}`),
			mk(t, "$spam", "m.room.message", "@mallory:evil.org", year2100, nil, `{"msgtype":"m.text","body":"pinned"}`),
			mk(t, "$fast", "m.room.message", "@bob:example.org", fast, nil, `{"msgtype":"m.text","body":"a fast clock"}`))
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.LastTS != fast || r.MessageCount != 3 {
			t.Errorf("the room's last message time %d, %d messages; want %d (the fast clock's, believed), 3", r.LastTS, r.MessageCount, fast)
		}
		latest, err := st.LatestMessages(ctx, room, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(latest) != 2 || latest[0].ID != "$fast" || latest[1].ID != "$old" {
			var ids []string
			for _, e := range latest {
				ids = append(ids, string(e.ID))
			}
			t.Errorf("the room's latest messages are %v; want [$fast $old]", ids)
		}
		// Still stored, and on its day.
		days, err := st.RoomDays(ctx, room, year2100-86400000, year2100+86400000, 10)
		if err != nil || len(days) != 1 {
			t.Errorf("the message stamped in 2100 has days %v, %v; want its own", days, err)
		}
	})
}

// An archive migrated from a version that let history read back stamped
// ahead set its room's last message time takes it back, whether the
// message is still there or not.
func TestMigrationUnpinsRooms(t *testing.T) {
	// From 35, and from 36 as first written, which left the second room
	// (037 runs the step again).
	for _, d := range storetest.Dialects {
		for _, from := range []string{"35", "36"} {
			t.Run(d+"/"+from, func(t *testing.T) { migrateUnpins(t, d, from) })
		}
	}
}

// migrateUnpins is TestMigrationUnpinsRooms on dialect d from version from.
func migrateUnpins(t *testing.T, d, from string) {
	const year2100 = int64(4102444800000)
	st := migratedFrom(t, d, func(st *store.Store) {
		put(t, st, baseRoom(t)...)
		put(t, st,
			mk(t, "$old", "m.room.message", "@bob:example.org", 3000, nil, `{"msgtype":"m.text","body":"an old message"}`),
			mk(t, "$spam", "m.room.message", "@mallory:evil.org", year2100, nil, `{"msgtype":"m.text","body":"pinned"}`),
			mk(t, "$edit", "m.room.message", "@mallory:evil.org", year2100+1, nil,
				`{"msgtype":"m.text","body":"* pinned","m.new_content":{"msgtype":"m.text","body":"pinned"},"m.relates_to":{"rel_type":"m.replace","event_id":"$spam"}}`))
		put(t, st, mkAt(t, "!other:example.org", "$o1", "m.room.message", "@bob:example.org", 5000, nil, `{"msgtype":"m.text","body":"elsewhere"}`))
	},
		`UPDATE rooms SET last_ts = 4102444800000 WHERE room_id = '!room:example.org'`,
		// As if the message that set it was deleted since (an erasure,
		// a purge; helper-92).
		`UPDATE rooms SET last_ts = 4102444800000 WHERE room_id = '!other:example.org'`,
		`UPDATE schema_version SET version = `+from)
	for r, want := range map[id.RoomID]int64{room: 3000, "!other:example.org": 5000} {
		got, err := st.Room(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastTS != want {
			t.Errorf("after migrating, %s's last message time is %d; want %d", r, got.LastTS, want)
		}
	}
}

// A batch whose only readable event is a poll stamped ahead still gives
// its room a first time (which its address opens on): the room's times
// were written only for a batch with a message or a last time.
func TestFutureStampedPollAloneGivesItsRoomATime(t *testing.T) {
	const year2100 = int64(4102444800000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$poll", "m.poll.start", "@bob:example.org", year2100, nil,
			`{"m.poll":{"question":{"m.text":[{"body":"when?"}]},"answers":[{"m.id":"a","m.text":[{"body":"now"}]},{"m.id":"b","m.text":[{"body":"later"}]}]}}`))
		r, err := st.Room(context.Background(), room)
		if err != nil {
			t.Fatal(err)
		}
		if r.FirstTS != year2100 || r.LastTS != 0 {
			t.Errorf("the room's times are %d to %d; want %d (the poll's) to 0 (nothing sent in time)", r.FirstTS, r.LastTS, year2100)
		}
	})
}

// History read back stamped after 9999-12-31, the last day a page can
// show, is stored at its arrival, as a push stamped ahead is: its day, its
// room's address and the links to them answered 400 (helper-94). A
// message of that last day keeps its time.
func TestHistoryStampedPastTheLastDayIsStoredAtItsArrival(t *testing.T) {
	const lastDay = int64(253402300799999) // 9999-12-31T23:59:59.999Z
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		before := time.Now().UnixMilli()
		for _, src := range []store.Source{store.SourceBackfill, store.SourceImport, store.SourceSweep} {
			if _, err := st.PutEventsFrom(ctx, src, []store.Event{
				mk(t, "$past-"+string(src), "m.room.message", "@mallory:evil.org", lastDay+1, nil, `{"msgtype":"m.text","body":"year 10000"}`),
				mk(t, "$last-"+string(src), "m.room.message", "@bob:example.org", lastDay, nil, `{"msgtype":"m.text","body":"the last day"}`),
			}); err != nil {
				t.Fatal(err)
			}
		}
		after := time.Now().UnixMilli()
		for _, src := range []store.Source{store.SourceBackfill, store.SourceImport, store.SourceSweep} {
			evs, err := st.EventsByID(ctx, []id.EventID{id.EventID("$past-" + string(src)), id.EventID("$last-" + string(src))})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 2 {
				t.Fatalf("%s: %d events stored; want 2", src, len(evs))
			}
			for _, e := range evs {
				switch e.ID {
				case id.EventID("$past-" + string(src)):
					if e.OriginTS < before || e.OriginTS > after {
						t.Errorf("%s: the message stamped past the last day is stored at %d; want its arrival, %d to %d", src, e.OriginTS, before, after)
					}
				default:
					if e.OriginTS != lastDay {
						t.Errorf("%s: the message of the last day is stored at %d; want %d", src, e.OriginTS, lastDay)
					}
				}
			}
		}
	})
}
