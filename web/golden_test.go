package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden pages under testdata/golden")

// TestGoldenPages holds the bytes of the pages of messages (day pages and
// their later pages and hours, threads, edit histories, permalinks, the
// live fragment, text logs and JSON days) to what they were when the file
// was written: how pages are loaded and built may change for speed, what
// a reader gets may not. The fixtures are the demo rooms and their IRC
// meeting, a room of hostile content (the browser tests' XSS payloads as
// bodies, names, reaction keys, reasons and topics, and broken content),
// a busy day of replies, reactions, HTML and membership changes, and the
// bundled corpus sample replayed as Matrix events. Both databases must
// give the same bytes. Rewrite with -update after an intended change.
func TestGoldenPages(t *testing.T) {
	fixtures := []struct {
		name  string
		load  func(t testing.TB, st *store.Store)
		extra []string // paths to fetch besides those the crawl finds
	}{
		{"demo", loadDemo, []string{
			"/room/" + demoSlug + "/event/" + editOrig, "/room/" + demoSlug + "/event/" + htmlOrig, "/room/" + demoSlug + "/event/" + replies[0],
			"/room/" + demoSlug + "/event/" + emote, "/room/" + demoSlug + "/event/" + notice,
			"/room/" + demoSlug + "/2026-03-03?fragment=items", "/room/opendev-infra:example.org/event/$PFOAoi4Wj8IicG8GQXcincYCm_FGsgtGxhDhbmUGpyQ",
		}},
		{"hostile", loadHostile, []string{"/room/!x:example.org/2026-01-01?fragment=items", "/room/!x:example.org/event/$p7", "/room/!x:example.org/event/$bad2"}},
		{"busy", loadBusy, []string{"/room/!x:example.org/event/$m250", "/room/!x:example.org/event/$s3"}},
		{"corpus", loadCorpusSample, nil},
	}
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			for _, fx := range fixtures {
				t.Run(fx.name, func(t *testing.T) {
					st := storetest.Open(t, dialect)
					fx.load(t, st)
					srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example"})
					if err != nil {
						t.Fatal(err)
					}
					// The day the pages were written: a permalink's
					// citations name the day they were read (access-date).
					srv.SetNow(func() time.Time { return goldenDay })
					got := crawl(t, &env{st: st, srv: srv}, fx.extra)
					path := filepath.Join("testdata", "golden", fx.name+".txt.gz")
					if *updateGolden && dialect == storetest.Dialects[0] {
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						writeGzip(t, path, got)
						return
					}
					compareGolden(t, readGzip(t, path), got)
				})
			}
		})
	}
}

// goldenDay is the server's clock for the golden pages: the day they were
// last written.
var goldenDay = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// The golden pages are kept gzipped: several megabytes of HTML otherwise.
func writeGzip(t *testing.T, path string, b []byte) {
	t.Helper()
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (write it with -update)", err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// compareGolden reports the first page that differs, at its first
// differing line.
func compareGolden(t *testing.T, want, got []byte) {
	t.Helper()
	if bytes.Equal(want, got) {
		return
	}
	wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	page := ""
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if strings.HasPrefix(w, "=== ") {
			page = w
			if strings.HasPrefix(g, "=== ") {
				continue // the sizes differ if a line does: show the line
			}
		}
		if w != g {
			t.Fatalf("pages differ from the golden file: %s, line %d:\nwant %.2000q\n got %.2000q", page, i+1, w, g)
		}
	}
	t.Fatal("pages differ from the golden file (in a page's status, type or size)")
}

// crawl fetches every page of messages the site links to, starting from
// the sitemaps, and returns them in order, each after a header line.
func crawl(t *testing.T, e *env, extra []string) []byte {
	t.Helper()
	var out bytes.Buffer
	seen := map[string]bool{}
	var queue []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			queue = append(queue, p)
		}
	}
	// Sitemaps list every room's days (with their canonical paths).
	loc := regexp.MustCompile(`<loc>https://archive\.example([^<]*)</loc>`)
	idx := e.get(t, "/sitemap.xml")
	for _, m := range loc.FindAllStringSubmatch(idx.Body.String(), -1) {
		sm := e.get(t, unescapeXML(m[1]))
		for _, d := range loc.FindAllStringSubmatch(sm.Body.String(), -1) {
			p := unescapeXML(d[1])
			if strings.Count(p, "/") == 3 && regexp.MustCompile(`/\d{4}-\d\d-\d\d$`).MatchString(p) {
				add(p)
				add(p + ".txt")
			}
		}
	}
	for _, p := range extra {
		add(p)
	}
	// From the pages, the links to other pages of messages: later pages
	// and an hour of a day, threads and edit histories, and a few
	// permalinks (all of them would make the file huge).
	href := regexp.MustCompile(`href="(/room/[^"]*)"`)
	permalinks, hours := 0, map[string]int{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		rec := e.get(t, p)
		body := normalizeNow(rec.Body.Bytes())
		fmt.Fprintf(&out, "=== GET %s: %d %s, %d bytes\n", p, rec.Code, rec.Header().Get("Content-Type"), len(body))
		out.Write(body)
		out.WriteString("\n")
		if !strings.Contains(rec.Header().Get("Content-Type"), "text/html") {
			continue
		}
		if room, date, ok := dayOf(p); ok {
			add("/api/v1/rooms/" + room + "/events?date=" + date)
		}
		for _, m := range href.FindAllStringSubmatch(rec.Body.String(), -1) {
			l, _, _ := strings.Cut(unescapeXML(m[1]), "#")
			day, _, _ := strings.Cut(l, "?")
			switch {
			case strings.Contains(l, "?after="):
				// A day's pages, not the pages a permalink opens on.
				if !strings.Contains(p, "/event/") {
					add(l)
				}
			case strings.Contains(l, "/thread/"), strings.HasSuffix(l, "/edits"):
				add(l)
			case strings.Contains(l, "?hour="):
				// The second hour of each day (the first starts where the
				// day does): each is a page of its own.
				if hours[day]++; hours[day] == 2 {
					add(l)
				}
			case strings.Contains(l, "/event/") && !seen[l] && permalinks < 60:
				if permalinks++; permalinks%10 == 0 {
					add(l)
				}
			}
		}
	}
	return out.Bytes()
}

// dayOf reads a day page's room and date from its path.
func dayOf(p string) (room, date string, ok bool) {
	m := regexp.MustCompile(`^/room/([^/?]+)/(\d{4}-\d\d-\d\d)$`).FindStringSubmatch(p)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

func unescapeXML(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#39;", "'", "&#34;", `"`).Replace(s)
}

// normalizeNow replaces the times a fixture's import stamps (when the
// archive received an event, applied a redaction) by "<now>": they are
// the clock's, not the fixture's. Fixture times are all long past.
func normalizeNow(b []byte) []byte {
	now := time.Now()
	near := func(t time.Time) bool { return t.After(now.Add(-72*time.Hour)) && t.Before(now.Add(72*time.Hour)) }
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?( UTC|Z)|\b1\d{12}\b`)
	return stamp.ReplaceAllFunc(b, func(m []byte) []byte {
		s := string(m)
		var t time.Time
		var err error
		switch {
		case strings.HasSuffix(s, " UTC"):
			t, err = time.Parse("2006-01-02 15:04:05 UTC", s)
		case strings.HasSuffix(s, "Z"):
			t, err = time.Parse(time.RFC3339Nano, s)
		default:
			var ms int64
			ms, err = strconv.ParseInt(s, 10, 64)
			t = time.UnixMilli(ms)
		}
		if err == nil && near(t) {
			return []byte("<now>")
		}
		return m
	})
}

func importFiles(t testing.TB, st *store.Store, opts ingest.ImportOptions, files ...string) {
	t.Helper()
	in := ingest.New(st, storetest.Logger(t), "")
	for _, f := range files {
		if _, err := in.ImportFile(context.Background(), f, opts); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
}

// loadDemo imports the demo rooms and the demo IRC meeting.
func loadDemo(t testing.TB, st *store.Store) {
	importFiles(t, st, ingest.ImportOptions{RouteUnclaimedAliases: true}, demoFile, "../testdata/demo/opendev-infra.ndjson")
	alias := "#opendev-meeting:example.org"
	room, err := irclog.RoomID(alias)
	if err != nil {
		t.Fatal(err)
	}
	opts := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{Network: "OFTC", Channel: "#opendev-meeting", Server: "example.org", Room: room}}
	importFiles(t, st, ingest.ImportOptions{IRC: opts, RouteUnclaimedAliases: true}, "../testdata/demo/irc/opendev-meeting.2026-03-03.log")
}

// loadHostile imports a room of hostile content: each XSS payload of the
// browser tests as a formatted body, a plain body, a display name, a
// reaction key, a redaction reason and a reply's quoted text, and
// content that cannot be displayed as sent.
func loadHostile(t testing.TB, st *store.Store) {
	raw, err := os.ReadFile("../internal/browsertest/testdata/xss/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	var payloads []struct{ HTML string }
	if err := json.Unmarshal(raw, &payloads); err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	const day1, day2 = 1767225601000, 1767312001000
	var lines []string
	for i, p := range payloads {
		h := strings.ReplaceAll(p.HTML, "{N}", strconv.Itoa(i))
		ts := int64(day1) + int64(i)*1000
		if i >= len(payloads)/2 {
			ts = int64(day2) + int64(i)*1000
		}
		user := fmt.Sprintf("@h%d:example.org", i%40)
		if i < 40 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$j%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":"join","displayname":%s}}`,
				i, user, ts-500, user, q(h)))
		}
		content := fmt.Sprintf(`{"msgtype":"m.text","body":%s,"format":"org.matrix.custom.html","formatted_body":%s}`, q("payload "+strconv.Itoa(i)), q(h))
		switch i % 4 {
		case 1:
			content = fmt.Sprintf(`{"msgtype":"m.text","body":%s}`, q(h))
		case 2:
			content = fmt.Sprintf(`{"msgtype":"m.notice","body":%s,"m.relates_to":{"m.in_reply_to":{"event_id":"$p%d"}}}`, q("> <@a:example.org> "+h+"\n\nreply "+h), i-1)
		case 3:
			content = fmt.Sprintf(`{"msgtype":"m.emote","body":%s}`, q(h))
		}
		lines = append(lines, fmt.Sprintf(`{"event_id":"$p%d","room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":%s}`, i, user, ts, content))
		if i%5 == 0 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$k%d","room_id":"!x:example.org","type":"m.reaction","sender":%q,"origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$p%d","key":%s}}}`,
				i, user, ts+1, i, q(h)))
		}
		if i%23 == 0 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$d%d","room_id":"!x:example.org","type":"m.room.redaction","sender":%q,"origin_server_ts":%d,"redacts":"$p%d","content":{"reason":%s}}`,
				i, user, ts+2, i, q(h)))
		}
		if i%17 == 0 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$e%d","room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"* edited","m.new_content":{"msgtype":"m.text","body":%s,"format":"org.matrix.custom.html","formatted_body":%s},"m.relates_to":{"rel_type":"m.replace","event_id":"$p%d"}}}`,
				i, user, ts+3, q("edited "+h), q("<em>edited</em> "+h), i))
		}
		if i%29 == 0 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$t%d","room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":%s,"m.relates_to":{"rel_type":"m.thread","event_id":"$p%d"}}}`,
				i, user, ts+4, q("in thread "+h), i))
		}
	}
	lines = append(lines,
		fmt.Sprintf(`{"event_id":"$topic","room_id":"!x:example.org","type":"m.room.topic","sender":"@a:example.org","origin_server_ts":%d,"state_key":"","content":{"topic":%s}}`, day1+500, q(payloads[0].HTML)),
		msgLine("$bad1", day1+900, `{"msgtype":"m.text","body":5}`),
		msgLine("$bad2", day1+901, `{"msgtype":7,"body":"wrong msgtype"}`),
		msgLine("$bad3", day1+902, `{"msgtype":"m.text"}`),
		msgLine("$bad4", day1+903, `{"msgtype":"m.text","body":"lone \udc00 surrogate \ud800 and NUL-free","format":"org.matrix.custom.html","formatted_body":"<b>\udfff</b>"}`),
		msgLine("$bad5", day1+904, `{"msgtype":"m.image","body":"<img src=x onerror=__xss(1)>.png","url":"mxc://example.org/x\"><script>","info":{"w":"wide","h":-1,"size":"big"}}`),
		msgLine("$bad6", day1+905, `{"msgtype":"m.text","body":"reply to nothing","m.relates_to":{"m.in_reply_to":{"event_id":"$nowhere"}}}`),
		msgLine("$bad7", day1+906, `{"msgtype":"m.text","body":"edit of another's","m.relates_to":{"rel_type":"m.annotation","event_id":"$p1","key":5}}`),
	)
	importFiles(t, st, ingest.ImportOptions{}, writeRoom(t, lines...))
}

// loadBusy imports a busy day: the benchmark's mix of replies, reactions
// and HTML, and runs of membership changes, over more than a page.
func loadBusy(t testing.TB, st *store.Store) {
	lines := dayRoomLines(560)
	for i := range 60 {
		ts := 1767225601000 + int64(i)*60000 + 30000
		user := fmt.Sprintf("@u%d:example.org", i%7)
		content := []string{`{"membership":"join"}`, `{"membership":"join","displayname":"Name <%d>"}`, `{"membership":"leave"}`}[i/7%3]
		if i/7%3 == 1 {
			content = fmt.Sprintf(content, i)
		}
		lines = append(lines, fmt.Sprintf(`{"event_id":"$s%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":%s}`,
			i, user, ts, user, content))
	}
	// Past the bounds: more reactions than are counted, more thread
	// replies (the next day) than are loaded; and a tombstone that names
	// a shown room.
	for i := range store.MaxRelated + 1 {
		lines = append(lines,
			fmt.Sprintf(`{"event_id":"$cr%d","room_id":"!x:example.org","type":"m.reaction","sender":"@r%d:example.org","origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"+%d"}}}`,
				i, i, 1767225700000+int64(i), i%3),
			fmt.Sprintf(`{"event_id":"$ct%d","room_id":"!x:example.org","type":"m.room.message","sender":"@r%d:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"thread reply %d","m.relates_to":{"rel_type":"m.thread","event_id":"$m5"}}}`,
				i, i, 1767312001000+int64(i)*1000, i))
	}
	lines = append(lines, `{"event_id":"$tomb","room_id":"!x:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767312000500,"state_key":"","content":{"body":"moved","replacement_room":"!x:example.org"}}`)
	importFiles(t, st, ingest.ImportOptions{}, writeRoom(t, lines...))
}

// loadCorpusSample replays the bundled corpus sample (real IRC chat) as
// Matrix events, as the benchmark does with the whole corpus.
func loadCorpusSample(t testing.TB, st *store.Store) {
	logs, err := corpus.Read("../testdata/corpus-sample/ubuntu-irc")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := corpus.Generate(&b, logs, 1500); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "corpus.ndjson")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	importFiles(t, st, ingest.ImportOptions{RouteUnclaimedAliases: true}, p)
}
