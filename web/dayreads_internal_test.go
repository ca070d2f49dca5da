package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

// TestDayReadsTakeTurns: no more than MaxDayReads requests read JSON days,
// text logs and meetings' windows at once. With the only turn held, a
// JSON day, a text log, a room's meetings and a meeting wait for it until
// their time runs out (503, asking to retry), while a day page, which
// takes none, is answered; once it is given back all are answered.
func TestDayReadsTakeTurns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		lines := []string{
			`{"event_id":"$c","room_id":"!x:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"10"}}`,
			`{"event_id":"$hv","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
		}
		for i, body := range []string{"#startmeeting weekly", "message 1", "message 2", "message 3", "message 4", "#endmeeting"} {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$m%d","room_id":"!x:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`, i, 1767225601000+int64(i)*1000, body))
		}
		file := filepath.Join(t.TempDir(), "room.ndjson")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), file, ingest.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		s, err := New(st, render.New(render.Options{}), storetest.Logger(t), Options{BaseURL: "https://archive.example", MaxDayReads: 1, RequestTimeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			return rec
		}
		held := s.echo.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		release, err := s.takeDayRead(held)
		if err != nil {
			t.Fatal(err)
		}
		const api, txt, day = "/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/room/!x:example.org/2026-01-01"
		const meetings, minutes = "/room/!x:example.org/meetings", "/room/!x:example.org/meeting/$m0"
		for _, p := range []string{api, txt, meetings, minutes} {
			if rec := get(p); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Errorf("GET %s with no turn free = %d (Retry-After %q), want 503 asking to retry", p, rec.Code, rec.Header().Get("Retry-After"))
			}
		}
		if rec := get(day); rec.Code != http.StatusOK {
			t.Errorf("GET %s with no turn free = %d: a day page takes none", day, rec.Code)
		}
		release()
		for _, p := range []string{api, txt, meetings, minutes, api, txt, meetings, minutes} { // twice: each gave its turn back
			if rec := get(p); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "weekly") {
				t.Errorf("GET %s once the turn was given back = %d", p, rec.Code)
			}
		}
	})
}
