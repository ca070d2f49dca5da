package store_test

import (
	"context"
	"errors"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPutWritesNULSafely: U+0000 is valid JSON and valid Matrix, but
// PostgreSQL text cannot hold it. Every decoded string the store writes
// (display name, reaction key, redaction reason, room name, topic, alias)
// is stored with U+FFFD in its place, the same on both databases, and the
// batch commits.
func TestPutWritesNULSafely(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		msg := mk(t, "$m1", "m.room.message", "@eve:example.org", 2000, nil, `{"msgtype":"m.text","body":"a\u0000b"}`)
		msg.SenderName = "Ev\x00e"
		evs := []store.Event{
			mk(t, "$eve", "m.room.member", "@eve:example.org", 1900, sk("@eve:example.org"), `{"membership":"join","displayname":"Ev\u0000e"}`),
			msg,
			mk(t, "$react", "m.reaction", "@alice:example.org", 2001, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"ok\u0000"}}`),
			mk(t, "$react2", "m.reaction", "@alice:example.org", 2001, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"ok\u0000"}}`),
			mk(t, "$topic", "m.room.topic", "@alice:example.org", 2002, sk(""), `{"topic":"t\u0000opic"}`),
			mk(t, "$name2", "m.room.name", "@alice:example.org", 2003, sk(""), `{"name":"n\u0000ame"}`),
			mk(t, "$alias2", "m.room.canonical_alias", "@alice:example.org", 2004, sk(""), `{"alias":"#nul\u0000:example.org","alt_aliases":["#x\u0000:example.org"]}`),
			mk(t, "$red", "m.room.redaction", "@alice:example.org", 2005, nil, `{"redacts":"$react","reason":"sp\u0000am"}`),
		}
		res, err := st.PutEvents(ctx, evs)
		if err != nil {
			t.Fatalf("PutEvents: %v", err)
		}
		if res.Stored != len(evs) {
			t.Errorf("PutEvents = %+v, want all %d stored", res, len(evs))
		}
		got, err := st.EventByID(ctx, "$m1")
		if err != nil {
			t.Fatal(err)
		}
		if got.SenderName != "Ev\uFFFDe" {
			t.Errorf("sender name = %q", got.SenderName)
		}
		if got, err = st.EventByID(ctx, "$react2"); err != nil || got.Rel.Key != "ok\uFFFD" {
			t.Errorf("reaction key = %q, %v; want %q", got.Rel.Key, err, "ok\uFFFD")
		}
		reds, err := st.RedactionsOf(ctx, []id.EventID{"$react"})
		if err != nil {
			t.Fatal(err)
		}
		if r := reds["$react"]; r.Reason != "sp\uFFFDam" || r.AppliedAt.IsZero() {
			t.Errorf("redaction = %+v, want reason %q, applied", r, "sp\uFFFDam")
		}
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.Topic != "t\uFFFDopic" || r.Name != "n\uFFFDame" || r.CanonicalAlias != "#nul\uFFFD:example.org" {
			t.Errorf("room = name %q topic %q alias %q", r.Name, r.Topic, r.CanonicalAlias)
		}
	})
}

// TestReadsTakeArgumentsOfAnyBytes: a read's text arguments come from
// anyone (a room, event or cursor ID in an anonymous request), and may
// hold U+0000 or bytes that are not UTF-8, which PostgreSQL text refuses.
// Each read answers as it would for any ID it does not hold, on both
// databases, rather than failing ("invalid byte sequence for encoding
// UTF8"). On PostgreSQL the arguments are cleaned as writes are (dbText),
// so an ID stored with U+FFFD for its NUL is found by the ID as sent.
func TestReadsTakeArgumentsOfAnyBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`))
		for _, bad := range []string{"x\x00y", "x\xffy"} {
			if _, err := st.EventByID(ctx, id.EventID("$"+bad)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("EventByID(%q) = %v, want ErrNotFound", bad, err)
			}
			if _, err := st.Room(ctx, id.RoomID("!"+bad+":example.org")); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Room(%q) = %v, want ErrNotFound", bad, err)
			}
			if _, err := st.RoomIDByAlias(ctx, "#"+bad+":example.org"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("RoomIDByAlias(%q) = %v, want ErrNotFound", bad, err)
			}
			if rooms, err := st.RoomsByID(ctx, []id.RoomID{id.RoomID("!" + bad + ":example.org"), room}); err != nil || len(rooms) != 1 {
				t.Errorf("RoomsByID(%q and the room) = %d rooms, %v; want the room alone", bad, len(rooms), err)
			}
			if reds, err := st.RoomRedactions(ctx, room, 3000, id.EventID("$"+bad), 10); err != nil || len(reds) != 0 {
				t.Errorf("RoomRedactions(before %q) = %v, %v; want none", bad, reds, err)
			}
		}
	})
}
