package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A room's message count (the directory's, the API's, the about page's)
// is of the messages its pages show: an opted-out member's are not
// counted, from the opt-out on, whatever happens to them meanwhile
// (redacted, erased, more sent), and are again once they opt back in. At
// every step it agrees with the calendar's count of the same room
// (DayCounts, which screens at read time), in each of two rooms.
func TestRoomCountLeavesOptedOutMembersOut(t *testing.T) {
	const other = id.RoomID("!other:example.org")
	const alice, bob, carol = "@alice:example.org", "@bob:example.org", "@carol:example.org"
	msg := func(t *testing.T, r id.RoomID, evID, sender string, ts int64) store.Event {
		return mkAt(t, r, evID, "m.room.message", sender, ts, nil, fmt.Sprintf(`{"msgtype":"m.text","body":"%s says hi"}`, sender))
	}
	redact := func(t *testing.T, r id.RoomID, evID, sender string, ts int64, target string) store.Event {
		return mkAt(t, r, evID, "m.room.redaction", sender, ts, nil, fmt.Sprintf(`{"redacts":%q}`, target))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st,
			mkAt(t, other, "$ocreate", "m.room.create", alice, 1000, sk(""), `{"room_version":"10","creator":"@alice:example.org"}`),
			mkAt(t, other, "$ohv", "m.room.history_visibility", alice, 1001, sk(""), `{"history_visibility":"world_readable"}`))
		check := func(step string, want, wantOther int64) {
			t.Helper()
			for r, want := range map[id.RoomID]int64{room: want, other: wantOther} {
				got, err := st.Room(ctx, r)
				if err != nil {
					t.Fatal(err)
				}
				days, err := st.DayCounts(ctx, r, 0, time.Now().UnixMilli())
				if err != nil {
					t.Fatal(err)
				}
				shown := int64(0)
				for _, n := range days {
					shown += int64(n)
				}
				if got.MessageCount != want || shown != want {
					t.Errorf("%s: %s counts %d messages, its calendar %d; want %d", step, r, got.MessageCount, shown, want)
				}
				listed, err := st.Rooms(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var inList *store.Room
				for i := range listed {
					if listed[i].ID == r {
						inList = &listed[i]
					}
				}
				switch {
				case want == 0 && inList != nil:
					t.Errorf("%s: %s is listed with %d messages, none of which its pages show", step, r, inList.MessageCount)
				case want > 0 && inList == nil:
					t.Errorf("%s: %s is not listed; want %d messages", step, r, want)
				case want > 0 && inList.MessageCount != want:
					t.Errorf("%s: %s is listed with %d messages; want %d", step, r, inList.MessageCount, want)
				}
			}
		}
		optOut := func(user id.UserID, via string) {
			t.Helper()
			if _, err := st.OptOut(ctx, user, via); err != nil {
				t.Fatal(err)
			}
		}

		put(t, st, msg(t, room, "$a1", alice, 2000), msg(t, room, "$b1", bob, 2001), msg(t, room, "$b2", bob, 2002),
			msg(t, room, "$c1", carol, 2003), msg(t, other, "$ob1", bob, 2004), msg(t, other, "$ob2", bob, 2005))
		check("stored", 4, 2)
		optOut(bob, store.OptOutByUser)
		check("bob opted out", 2, 0)
		put(t, st, msg(t, room, "$b3", bob, 2010), msg(t, other, "$ob3", bob, 2011))
		check("bob wrote while opted out", 2, 0)
		put(t, st, redact(t, room, "$rb1", bob, 2020, "$b1"))
		check("bob redacted a message while opted out", 2, 0)
		optOut(bob, store.OptOutByOperator)
		check("the operator opted bob out too", 2, 0)
		optOut(bob, store.OptOutByUser)
		check("bob opted out again", 2, 0)
		if _, err := st.OptIn(ctx, bob); err != nil {
			t.Fatal(err)
		}
		check("bob opted in", 4, 3) // a1, b2, b3, c1; ob1-ob3
		put(t, st, redact(t, room, "$rb2", bob, 2030, "$b2"))
		check("bob redacted a message", 3, 3)
		optOut(bob, store.OptOutByUser)
		check("bob opted out once more", 2, 0)
		if ok, err := st.OptInSelf(ctx, bob, time.Time{}); err != nil || !ok {
			t.Fatalf("OptInSelf = %v, %v", ok, err)
		}
		check("bob opted himself in", 3, 3)
		if _, err := st.EraseUser(ctx, carol, false); err != nil {
			t.Fatal(err)
		}
		check("carol erased", 2, 3)
		put(t, st, msg(t, room, "$c2", carol, 2040))
		check("carol wrote after her erasure", 2, 3)
		optOut(alice, store.OptOutByUser)
		check("alice opted out", 1, 3)
		if err := st.Takedown(ctx, "$a1", "spam"); err != nil {
			t.Fatal(err)
		}
		check("alice's message taken down while she is opted out", 1, 3)
		if _, err := st.OptIn(ctx, alice); err != nil {
			t.Fatal(err)
		}
		check("alice opted in", 1, 3)
		if _, err := st.EraseUser(ctx, bob, false); err != nil {
			t.Fatal(err)
		}
		check("bob erased", 0, 0)
	})
}

// An archive migrated from a version that counted opted-out members'
// messages counts them no more, and its counts left too high are mended.
func TestMigrationLeavesOptedOutMembersOutOfCounts(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			st := migratedFrom(t, d, func(st *store.Store) {
				put(t, st, baseRoom(t)...)
				for i, sender := range []string{"@alice:example.org", "@bob:example.org", "@bob:example.org", "@carol:example.org"} {
					put(t, st, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", sender, int64(2000+i), nil, `{"msgtype":"m.text","body":"hi"}`))
				}
				put(t, st, mk(t, "$edit", "m.room.message", "@bob:example.org", 2010, nil,
					`{"msgtype":"m.text","body":"* hi","m.new_content":{"msgtype":"m.text","body":"hi"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"}}`))
				put(t, st, mk(t, "$r", "m.room.redaction", "@bob:example.org", 2020, nil, `{"redacts":"$m2"}`))
				if _, err := st.OptOut(context.Background(), "@bob:example.org", store.OptOutByUser); err != nil {
					t.Fatal(err)
				}
			},
				// As version 33 left it: bob's message counted, and two
				// more a redaction in the transaction that stored them
				// left counted (TestRoomCountOfMessagesRedactedInTheirBatch).
				`UPDATE rooms SET message_count = 5`,
				`UPDATE schema_version SET version = 33`)
			r, err := st.Room(context.Background(), room)
			if err != nil {
				t.Fatal(err)
			}
			if r.MessageCount != 2 {
				t.Errorf("after migrating, the room counts %d messages; want 2 (alice's and carol's)", r.MessageCount)
			}
		})
	}
}

// A message redacted in the transaction that stored it (a spammer's
// messages and their redactions in one push, a redaction that came
// before its message, history served already redacted) is not counted:
// its redaction was applied before the transaction added its messages to
// the room's count, and the count, which stops at zero, kept each such
// message for good in a room that counted fewer.
func TestRoomCountOfMessagesRedactedInTheirBatch(t *testing.T) {
	msg := func(t *testing.T, evID, sender string, ts int64) store.Event {
		return mk(t, evID, "m.room.message", sender, ts, nil, `{"msgtype":"m.text","body":"hi"}`)
	}
	redact := func(t *testing.T, evID, sender string, ts int64, target string) store.Event {
		return mk(t, evID, "m.room.redaction", sender, ts, nil, fmt.Sprintf(`{"redacts":%q}`, target))
	}
	servedRedacted := func(t *testing.T, evID string, ts int64) store.Event {
		e := msg(t, evID, "@alice:example.org", ts)
		raw, err := json.Marshal(map[string]any{
			"event_id": evID, "room_id": string(room), "type": "m.room.message", "sender": "@alice:example.org",
			"origin_server_ts": ts, "content": map[string]any{},
			"unsigned": map[string]any{"redacted_because": map[string]any{
				"event_id": "$why" + evID, "room_id": string(room), "type": "m.room.redaction", "sender": "@alice:example.org",
				"origin_server_ts": ts + 1000, "redacts": evID, "content": map[string]any{"redacts": evID}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, err := event.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		e.Event = *ev
		return e
	}
	for _, c := range []struct {
		name    string
		batches func(t *testing.T) [][]store.Event
		want    int64
	}{
		{"a message and its redaction", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{msg(t, "$a1", "@alice:example.org", 2000), redact(t, "$r1", "@alice:example.org", 2001, "$a1")}}
		}, 0},
		{"a redaction, then its message", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{redact(t, "$r1", "@alice:example.org", 2001, "$a1")}, {msg(t, "$a1", "@alice:example.org", 2000)}}
		}, 0},
		// A backfill's order, newest first (helper-92).
		{"a redaction and its message, in one batch", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{redact(t, "$r1", "@mod:other.org", 2001, "$a1"), msg(t, "$a1", "@alice:example.org", 2000)}}
		}, 0},
		{"a redaction, then its message and another", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{redact(t, "$r1", "@alice:example.org", 2001, "$a1")},
				{msg(t, "$a1", "@alice:example.org", 2000), msg(t, "$a2", "@alice:example.org", 2002)}}
		}, 1},
		{"history served already redacted", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{servedRedacted(t, "$o1", 2000), servedRedacted(t, "$o2", 2001), servedRedacted(t, "$o3", 2002)}}
		}, 0},
		{"five spam messages and their redactions, in a room of one", func(t *testing.T) [][]store.Event {
			batch := []store.Event{}
			for i := range 5 {
				batch = append(batch, msg(t, fmt.Sprintf("$s%d", i), "@mallory:example.org", int64(3000+i)))
			}
			for i := range 5 {
				batch = append(batch, redact(t, fmt.Sprintf("$r%d", i), "@mod:other.org", int64(3100+i), fmt.Sprintf("$s%d", i)))
			}
			return [][]store.Event{{msg(t, "$a1", "@alice:example.org", 2000)}, batch}
		}, 1},
		{"a message, then its redaction", func(t *testing.T) [][]store.Event {
			return [][]store.Event{{msg(t, "$a1", "@alice:example.org", 2000), msg(t, "$a2", "@alice:example.org", 2001)},
				{redact(t, "$r1", "@alice:example.org", 2002, "$a1")}}
		}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				put(t, st, baseRoom(t)...)
				for _, b := range c.batches(t) {
					put(t, st, b...)
				}
				r, err := st.Room(ctx, room)
				if err != nil {
					t.Fatal(err)
				}
				if r.MessageCount != c.want {
					t.Errorf("the room counts %d messages; want %d", r.MessageCount, c.want)
				}
			})
		})
	}
}
