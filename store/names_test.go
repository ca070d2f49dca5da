package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// named is mk in any room, with the sender name ingest would have copied.
func named(t *testing.T, r id.RoomID, evID, typ, sender, name string, ts int64, stateKey *string, content string) store.Event {
	t.Helper()
	e := mk(t, evID, typ, sender, ts, stateKey, content)
	if r != room {
		var m map[string]any
		if err := json.Unmarshal(e.Raw, &m); err != nil {
			t.Fatal(err)
		}
		m["room_id"] = string(r)
		e.Raw, _ = json.Marshal(m)
		e.RoomID = r
	}
	e.SenderName = name
	return e
}

func senderNames(t *testing.T, st *store.Store, ids ...id.EventID) map[id.EventID]string {
	t.Helper()
	out := map[id.EventID]string{}
	for _, i := range ids {
		e, err := st.EventByID(context.Background(), i)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e.SenderName
	}
	return out
}

// A redacted member event clears the name it gave: the events of its user
// in its room from it to the user's next member event, itself included,
// whether the redaction comes after it or was waiting for it. The next
// member event's name, and the user's name in another room, stay.
func TestRedactedMemberEventClearsTheNamesItGave(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const other = id.RoomID("!other:example.org")
		const bob = "@bob:example.org"
		otherRoom := []store.Event{
			named(t, other, "$c2", "m.room.create", bob, "", 1000, sk(""), `{"room_version":"10"}`),
			named(t, other, "$hv2", "m.room.history_visibility", bob, "", 1001, sk(""), `{"history_visibility":"world_readable"}`),
			named(t, other, "$bj2", "m.room.member", bob, "Bobby", 1002, sk(bob), `{"membership":"join","displayname":"Bobby"}`),
			named(t, other, "$bm2", "m.room.message", bob, "Bobby", 2100, nil, `{"msgtype":"m.text","body":"elsewhere"}`),
		}
		put(t, st, append(append(baseRoom(t), otherRoom...),
			named(t, room, "$bj", "m.room.member", bob, "Bobby", 1500, sk(bob), `{"membership":"join","displayname":"Bobby"}`),
			named(t, room, "$bm", "m.room.message", bob, "Bobby", 2000, nil, `{"msgtype":"m.text","body":"hi"}`),
			named(t, room, "$am", "m.room.message", "@alice:example.org", "Alice", 2050, nil, `{"msgtype":"m.text","body":"hello bob"}`),
			named(t, room, "$bn", "m.room.member", bob, "Robert", 3000, sk(bob), `{"membership":"join","displayname":"Robert"}`),
			named(t, room, "$bm3", "m.room.message", bob, "Robert", 4000, nil, `{"msgtype":"m.text","body":"renamed"}`),
		)...)
		res := put(t, st, named(t, room, "$r", "m.room.redaction", bob, "Robert", 5000, nil, `{"redacts":"$bj"}`))
		if res.RedactionsApplied != 1 {
			t.Fatalf("redaction not applied: %+v", res)
		}
		want := map[id.EventID]string{"$bj": "", "$bm": "", "$am": "Alice", "$bn": "Robert", "$bm3": "Robert", "$bj2": "Bobby", "$bm2": "Bobby"}
		for i, got := range senderNames(t, st, "$bj", "$bm", "$am", "$bn", "$bm3", "$bj2", "$bm2") {
			if got != want[i] {
				t.Errorf("%s: sender name %q, want %q", i, got, want[i])
			}
		}

		// The redaction first (a sweep, a backfill): the member event
		// and a message it names arrive later, in one batch.
		const carol = "@carol:example.org"
		put(t, st, named(t, room, "$rc", "m.room.redaction", carol, "", 7000, nil, `{"redacts":"$cj"}`))
		put(t, st,
			named(t, room, "$cj", "m.room.member", carol, "Caz", 6000, sk(carol), `{"membership":"join","displayname":"Caz"}`),
			named(t, room, "$cm", "m.room.message", carol, "Caz", 6500, nil, `{"msgtype":"m.text","body":"late"}`))
		for i, got := range senderNames(t, st, "$cj", "$cm") {
			if got != "" {
				t.Errorf("%s (redaction before its target): sender name %q, want none", i, got)
			}
		}
	})
}
