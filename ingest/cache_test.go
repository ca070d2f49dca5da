package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func mkEvent(t *testing.T, room, evID, typ string, ts int64, stateKey *string, content string) *event.Event {
	t.Helper()
	m := map[string]any{"event_id": evID, "room_id": room, "type": typ, "sender": "@alice:example.org",
		"origin_server_ts": ts, "content": json.RawMessage(content)}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	raw, _ := json.Marshal(m)
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The per-room state cache is bounded: touching many rooms keeps only the
// most recently used, and an evicted room is reloaded from the store with
// the same decisions.
func TestRoomStateCacheIsBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := New(st, storetest.Logger(t), "")
		in.maxRooms = 3
		empty := ""
		for i := range 10 {
			room := fmt.Sprintf("!r%d:example.org", i)
			_, err := in.Ingest(ctx, []*event.Event{
				mkEvent(t, room, fmt.Sprintf("$c%d", i), event.TypeCreate, 1, &empty, `{"room_version":"10"}`),
				mkEvent(t, room, fmt.Sprintf("$h%d", i), event.TypeHistoryVisibility, 2, &empty, `{"history_visibility":"world_readable"}`),
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(in.rooms); n > in.maxRooms {
				t.Fatalf("after %d rooms the cache holds %d rooms; bound is %d", i+1, n, in.maxRooms)
			}
		}
		// Room 0 was evicted long ago: its message is still judged public.
		res, err := in.Ingest(ctx, []*event.Event{mkEvent(t, "!r0:example.org", "$m0", event.TypeMessage, 3, nil, `{"msgtype":"m.text","body":"hi"}`)})
		if err != nil || res.Stored != 1 || res.NotPublic != 0 {
			t.Fatalf("message in a reloaded room: %+v %v", res, err)
		}
		if _, ok := in.rooms[id.RoomID("!r0:example.org")]; !ok {
			t.Error("the room just used is not cached")
		}
		if n := len(in.rooms); n > in.maxRooms {
			t.Errorf("cache holds %d rooms; bound is %d", n, in.maxRooms)
		}
	})
}
