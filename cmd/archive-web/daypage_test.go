package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// web.day_page_size is how many events a day page shows: a day of 25
// messages in pages of 10 is three pages, each linking to the next.
func TestDayPageSizeFromConfig(t *testing.T) {
	ctx := context.Background()
	dataDir := newArchive(t)
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const room = "!busy:example.org"
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).UnixMilli()
	lines := []string{
		fmt.Sprintf(`{"event_id":"$create","room_id":%q,"type":"m.room.create","sender":"@alice:example.org","origin_server_ts":%d,"state_key":"","content":{"room_version":"10"}}`, room, day-60000),
		fmt.Sprintf(`{"event_id":"$hv","room_id":%q,"type":"m.room.history_visibility","sender":"@alice:example.org","origin_server_ts":%d,"state_key":"","content":{"history_visibility":"world_readable"}}`, room, day-59000),
	}
	for i := range 25 {
		lines = append(lines, fmt.Sprintf(`{"event_id":"$m%02d","room_id":%q,"type":"m.room.message","sender":"@alice:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"message %02d"}}`,
			i, room, day+int64(i)*60000, i))
	}
	path := filepath.Join(t.TempDir(), "day.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(ctx, path, ingest.ImportOptions{}); err != nil {
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
