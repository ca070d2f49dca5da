package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// web.day_page_size is how many events a day page shows: a day of 25
// messages in pages of 10 is three pages, each linking to the next.
func TestDayPageSizeFromConfig(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const room = "!busy:example.org"
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(id, typ string, key *string, ts int64, content string) store.Event {
		m := map[string]any{"event_id": id, "room_id": room, "type": typ, "sender": "@alice:example.org",
			"origin_server_ts": ts, "content": json.RawMessage(content)}
		if key != nil {
			m["state_key"] = *key
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		e, err := event.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return store.Event{Event: *e, Public: true, Rel: event.ParseRelation(e.Content)}
	}
	empty, alice := "", "@alice:example.org"
	evs := []store.Event{
		ev("$create", "m.room.create", &empty, day-60000, `{"room_version":"10"}`),
		ev("$hv", "m.room.history_visibility", &empty, day-59000, `{"history_visibility":"world_readable"}`),
		ev("$join", "m.room.member", &alice, day-58000, `{"membership":"join"}`),
	}
	for i := range 25 {
		evs = append(evs, ev(fmt.Sprintf("$m%02d", i), "m.room.message", nil, day+int64(i)*60000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %02d"}`, i)))
	}
	if _, err := st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	st.Close()

	addr, _ := startWeb(t, dataDir, "web:\n  listen: 127.0.0.1:0\n  day_page_size: 10\nsearch:\n  enabled: false\n")
	code, page := get(t, "http://"+addr+"/room/"+room+"/2026-03-02")
	if code != http.StatusOK {
		t.Fatalf("day page: %d\n%s", code, page)
	}
	if n := strings.Count(page, `<li class="msg`); n != 10 || !strings.Contains(page, "message 09") || strings.Contains(page, "message 10") {
		t.Errorf("the first page shows %d messages, want the first 10 of 25", n)
	}
	if !strings.Contains(page, "?after=") {
		t.Error("the first page does not link to the next")
	}
}
