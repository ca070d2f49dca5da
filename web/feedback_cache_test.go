package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// A PostgreSQL database restored from a backup under a running
// archive-web (to take out what was stored after it, or a failover to a
// replica that lacked the last commits): the positions after the restored
// head are given to new changes, and a room whose new changes repeat the
// old ones' count and times repeats its page key's inputs (its newest
// position, its row, screening's position). The page cached from the lost
// feed was served for the new one: the restore's lost message, not the
// one stored in its place. A page key now also holds how many times the
// process found the feed gone back (ReadState.FeedWentBack).
func TestCachedPageAfterTheFeedWentBack(t *testing.T) {
	ctx := context.Background()
	archiver, reader, dsn := storetest.TwinsAt(t, "postgres", store.Options{})
	putJSON := func(evs ...map[string]any) {
		t.Helper()
		var out []store.Event
		for _, m := range evs {
			raw, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := event.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, store.Event{Event: *ev, Public: true})
		}
		pgtest.Retry(t, func() error { _, err := archiver.PutEvents(ctx, out); return err })
	}
	const day = int64(1767225600000) // 2026-01-01
	msg := func(id, body string, ts int64) map[string]any {
		return map[string]any{"event_id": id, "room_id": "!x:example.org", "type": "m.room.message", "sender": "@a:example.org",
			"origin_server_ts": ts, "content": map[string]any{"msgtype": "m.text", "body": body}}
	}
	putJSON(
		map[string]any{"event_id": "$c", "room_id": "!x:example.org", "type": "m.room.create", "sender": "@a:example.org", "state_key": "", "origin_server_ts": day + 1000, "content": map[string]any{"room_version": "10"}},
		map[string]any{"event_id": "$h", "room_id": "!x:example.org", "type": "m.room.history_visibility", "sender": "@a:example.org", "state_key": "", "origin_server_ts": day + 1001, "content": map[string]any{"history_visibility": "world_readable"}},
		msg("$kept", "keptword", day+2000),
	)
	srv, err := web.New(reader, render.New(render.Options{}), storetest.Logger(t), web.Options{CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"}
	get := func(path string) string {
		t.Helper()
		var rec *httptest.ResponseRecorder
		pgtest.Retry(t, func() error {
			rec = httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
			}
			return nil
		})
		return rec.Body.String()
	}
	for _, p := range paths {
		get(p) // screening's copy loaded at the backup's head
	}
	backup := pgtest.Backup(t, dsn)
	putJSON(msg("$gone", "goneword", day+3000))
	for _, p := range paths {
		if body := get(p); !strings.Contains(body, "goneword") {
			t.Fatalf("%s does not show the message stored after the backup", p)
		}
	}
	pgtest.Restore(t, dsn, backup)
	for _, p := range paths {
		if body := get(p); strings.Contains(body, "goneword") {
			t.Errorf("%s shows the message the restore took out", p)
		}
	}
	// Stored in its place: the same count of changes and the same time.
	putJSON(msg("$new", "newword", day+3000))
	for _, p := range paths {
		body := get(p)
		if strings.Contains(body, "goneword") || !strings.Contains(body, "newword") {
			t.Errorf("%s after the restore shows the lost message (%v) and not the new one (%v)", p, strings.Contains(body, "goneword"), !strings.Contains(body, "newword"))
		}
	}
}
