package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// dayRoomLines is a day of n messages as a busy room has them: plain
// text with links, formatted HTML with code, replies and reactions.
func dayRoomLines(n int) []string {
	var lines []string
	for i := range n {
		ts := 1767225601000 + int64(i)*60000
		evID := fmt.Sprintf("$m%d", i)
		switch i % 4 {
		case 0:
			lines = append(lines, msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d: see https://example.org/docs/%d for the apt-get install steps, then restart the service"}`, i, i)))
		case 1:
			lines = append(lines, msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.text","body":"**%d** run make","format":"org.matrix.custom.html","formatted_body":"<p><strong>%d</strong> run <code>make test</code> and read <a href=\"https://example.org/%d\">the log</a></p><ul><li>one</li><li>two</li></ul>"}`, i, i, i)))
		case 2:
			lines = append(lines, msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.text","body":"> <@a:example.org> earlier\n\nreply %d agreed","m.relates_to":{"m.in_reply_to":{"event_id":"$m%d"}}}`, i, i-2)))
		default:
			lines = append(lines, msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.emote","body":"waves at everyone in the channel %d"}`, i)))
			lines = append(lines, fmt.Sprintf(`{"event_id":"$r%d","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m%d","key":"👍"}}}`, i, ts+1, i-1))
		}
	}
	return lines
}

// The day page benchmarks report cpu-ns/op besides ns/op: the process's
// CPU time per page, which depends less on what else the machine runs.

// BenchmarkDayPage measures a 500-message day page through the whole
// handler on SQLite, the same page asked again and again (a crawler's and
// a link's visitors' case), without and with the render cache; with a CPU
// profile it says where the time goes:
//
//	go test -run '^$' -bench 'BenchmarkDayPage/cached' -cpuprofile cpu.out ./web/
func BenchmarkDayPage(b *testing.B) {
	st := storetest.Open(b, "sqlite")
	room := writeRoom(b, dayRoomLines(500)...)
	if _, err := ingest.New(st, storetest.Logger(b), "").ImportFile(context.Background(), room, ingest.ImportOptions{}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		bytes int64
	}{{"nocache", 0}, {"cached", 64 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(b), web.Options{BaseURL: "https://archive.example", CacheBytes: bc.bytes})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := cpuTime()
			for range b.N {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/room/!x:example.org/2026-01-01", nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkFirstDayPage measures the first page (500 events, the default
// page) of a day of over 1,000 messages of real IRC chat (the bundled
// corpus sample replayed as Matrix events, as archive-bench does with the
// whole corpus) asked of a server that has cached nothing yet, on each
// database: the crawler's case, a day page asked once, and archive-bench's
// "first request" rows. Each run starts a new server (not timed) with the
// default render cache, so nothing of the page is cached; the store stays
// open, as it does in archive-web between two pages.
func BenchmarkFirstDayPage(b *testing.B) {
	benchFirst(b, func(testing.TB, *store.Store) string { return "/room/ubuntu-0:bench.example/" + corpusDay })
}

// BenchmarkFirstTextLog is BenchmarkFirstDayPage for the day's text log
// (every message of the day).
func BenchmarkFirstTextLog(b *testing.B) {
	benchFirst(b, func(testing.TB, *store.Store) string { return "/room/ubuntu-0:bench.example/" + corpusDay + ".txt" })
}

// BenchmarkFirstJSONDay is BenchmarkFirstDayPage for the day in the JSON
// API.
func BenchmarkFirstJSONDay(b *testing.B) {
	benchFirst(b, func(testing.TB, *store.Store) string {
		return "/api/v1/rooms/!ubuntu-0:bench.example/events?date=" + corpusDay
	})
}

// BenchmarkFirstPermalink is BenchmarkFirstDayPage for the permalink of a
// message in the middle of the day.
func BenchmarkFirstPermalink(b *testing.B) {
	benchFirst(b, func(t testing.TB, st *store.Store) string {
		from := time.Date(2005, 6, 27, 0, 0, 0, 0, time.UTC).UnixMilli()
		evs, _, err := st.DayPage(context.Background(), "!ubuntu-0:bench.example", from, from+86400000, store.Position{}, store.MaxCount, 0)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, e := range evs {
			if e.Type == "m.room.message" {
				msgs = append(msgs, string(e.ID))
			}
		}
		if len(msgs) < 100 {
			t.Fatalf("%s has %d messages", corpusDay, len(msgs))
		}
		return "/room/ubuntu-0:bench.example/event/" + url.PathEscape(msgs[len(msgs)/2])
	})
}

// BenchmarkFirstThread is BenchmarkFirstDayPage for a thread's page: a
// root and 20 replies, as archive-bench sends.
func BenchmarkFirstThread(b *testing.B) {
	benchFirst(b, func(t testing.TB, st *store.Store) string {
		lines := []string{msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"thread root, with some ordinary words"}`)}
		for i := range 20 {
			lines = append(lines, msgLine(fmt.Sprintf("$reply%d", i), 1767225602000+int64(i)*1000,
				fmt.Sprintf(`{"msgtype":"m.text","body":"thread reply %d, see https://example.org/%d","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`, i, i)))
		}
		importFiles(t, st, ingest.ImportOptions{}, writeRoom(t, lines...))
		return "/room/!x:example.org/thread/$root"
	})
}

// corpusDay is the corpus sample's day of over 1,000 messages.
const corpusDay = "2005-06-27"

// benchFirst measures the first request of the page at the path setup
// returns, on each database, the corpus sample loaded (BenchmarkFirstDayPage).
func benchFirst(b *testing.B, setup func(testing.TB, *store.Store) string) {
	for _, dialect := range storetest.Dialects {
		b.Run(dialect, func(b *testing.B) {
			st := storetest.Open(b, dialect)
			loadCorpusSample(b, st)
			path := setup(b, st)
			opts := web.Options{BaseURL: "https://archive.example", CacheBytes: 64 << 20}
			b.ResetTimer()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(b), opts)
				if err != nil {
					b.Fatal(err)
				}
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, path, nil)
				b.StartTimer()
				c := cpuTime()
				srv.ServeHTTP(rec, req)
				cpu += cpuTime() - c
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: status %d", path, rec.Code)
				}
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkFirstMarkdownDayPage is BenchmarkFirstDayPage for the busiest
// day of the corpus sample in the Markdown shape (corpus.ShapeMarkdown:
// long messages with a heading, a list, a code block and a link, and
// their HTML), where a page's cost is its messages' formatted bodies.
func BenchmarkFirstMarkdownDayPage(b *testing.B) {
	benchFirstShape(b, corpus.ShapeMarkdown, func(room, day string) string { return "/room/" + room + "/" + day })
}

// BenchmarkFirstMarkdownJSONDay is BenchmarkFirstMarkdownDayPage for the
// day in the JSON API.
func BenchmarkFirstMarkdownJSONDay(b *testing.B) {
	benchFirstShape(b, corpus.ShapeMarkdown, func(room, day string) string {
		return "/api/v1/rooms/" + room + "/events?date=" + day
	})
}

// benchFirstShape is benchFirst on the corpus sample replayed in a shape,
// asking for the route of its busiest room's busiest day (its messages
// are logged, -v).
func benchFirstShape(b *testing.B, shape string, route func(room, day string) string) {
	logs, err := corpus.Read("../testdata/corpus-sample/ubuntu-irc")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := corpus.GenerateShape(&buf, logs, 6000, shape); err != nil {
		b.Fatal(err)
	}
	counts := map[[2]string]int{}
	for line := range bytes.Lines(buf.Bytes()) {
		var ev struct {
			Room string `json:"room_id"`
			Type string `json:"type"`
			TS   int64  `json:"origin_server_ts"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			b.Fatal(err)
		}
		if ev.Type == "m.room.message" {
			counts[[2]string{ev.Room, time.UnixMilli(ev.TS).UTC().Format(time.DateOnly)}]++
		}
	}
	var busiest [2]string
	for k, n := range counts {
		if n > counts[busiest] || n == counts[busiest] && k[0]+k[1] < busiest[0]+busiest[1] {
			busiest = k
		}
	}
	p := filepath.Join(b.TempDir(), "shape.ndjson")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	benchFirst(b, func(t testing.TB, st *store.Store) string {
		importFiles(t, st, ingest.ImportOptions{}, p)
		t.Logf("%s %s: %d messages", busiest[0], busiest[1], counts[busiest])
		return route(busiest[0], busiest[1])
	})
}
