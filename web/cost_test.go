package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// newEnvRender is newEnv with the renderer and options given.
func newEnvRender(t *testing.T, st *store.Store, r *render.Renderer, opts web.Options, files ...string) *env {
	t.Helper()
	in := ingest.New(st, storetest.Logger(t), "")
	for _, f := range files {
		if _, err := in.ImportFile(context.Background(), f, ingest.ImportOptions{}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://archive.example"
	}
	srv, err := web.New(st, r, storetest.Logger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, srv: srv}
}

// countingRenderer renders media links through a MediaURL that counts its
// calls, then calls also (if not nil): every image message rendered to
// HTML calls it once, so the count tells how much of a page was rendered.
func countingRenderer(calls *atomic.Int64, also func()) *render.Renderer {
	return render.New(render.Options{MediaURL: func(server, mediaID string) string {
		calls.Add(1)
		if also != nil {
			also()
		}
		return "/_media/" + server + "/" + mediaID
	}})
}

func imageLine(evID string, ts int64) string {
	return msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.image","body":"%s.png","url":"mxc://example.org/%s"}`, evID[1:], evID[1:]))
}

// imageRoom is a room whose 2026-01-01 holds n image messages $i0…, and a
// thread of them under $i0.
func imageRoom(t *testing.T, n int) string {
	var lines []string
	for i := range n {
		lines = append(lines, imageLine(fmt.Sprintf("$i%d", i), 1767225601000+int64(i)))
	}
	lines = append(lines, msgLine("$t1", 1767225700000, `{"msgtype":"m.image","body":"t.png","url":"mxc://example.org/t1","m.relates_to":{"rel_type":"m.thread","event_id":"$i0"}}`))
	return writeRoom(t, lines...)
}

func conditionalGet(e *env, path, etag string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// TestRevalidationDoesNotRender: a conditional GET whose ETag still
// matches answers 304 without rendering any message (the ETag is known
// before rendering), and any change to what the page shows changes it.
func TestRevalidationDoesNotRender(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var calls atomic.Int64
		e := newEnvRender(t, st, countingRenderer(&calls, nil), web.Options{}, imageRoom(t, 5))
		paths := []string{
			"/room/!x:example.org/2026-01-01",
			"/room/!x:example.org/event/$i2",
			"/room/!x:example.org/thread/$i0",
			"/room/!x:example.org/event/$i3/edits",
			"/api/v1/rooms/!x:example.org/events?date=2026-01-01",
			"/api/v1/events/$i3",
		}
		etags := map[string]string{}
		for _, p := range paths {
			before := calls.Load()
			rec := e.get(t, p)
			if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" || calls.Load() == before {
				t.Fatalf("GET %s = %d, ETag %q, %d images rendered", p, rec.Code, rec.Header().Get("ETag"), calls.Load()-before)
			}
			etags[p] = rec.Header().Get("ETag")
			if again := e.get(t, p); again.Header().Get("ETag") != etags[p] || again.Body.String() != rec.Body.String() {
				t.Errorf("GET %s twice: ETag %q then %q, or another body", p, etags[p], again.Header().Get("ETag"))
			}
			before = calls.Load()
			if rec := conditionalGet(e, p, etags[p]); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("revalidating %s = %d with %d bytes, want 304", p, rec.Code, rec.Body.Len())
			}
			if n := calls.Load() - before; n != 0 {
				t.Errorf("revalidating %s rendered %d images, want none", p, n)
			}
		}

		// Each change to what the pages show gives them a new ETag.
		changes := []struct {
			name  string
			line  string
			paths []string
		}{
			{"edit", msgLine("$ed", 1767225800000, `{"msgtype":"m.text","body":"* new","m.new_content":{"msgtype":"m.image","body":"new.png","url":"mxc://example.org/new"},"m.relates_to":{"rel_type":"m.replace","event_id":"$i3"}}`),
				[]string{paths[0], paths[1], paths[3], paths[4], paths[5]}},
			{"reaction", `{"event_id":"$re","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":1767225900000,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$i2","key":"👍"}}}`,
				[]string{paths[0], paths[1], paths[4]}},
			{"thread reply", msgLine("$t2", 1767226000000, `{"msgtype":"m.text","body":"more","m.relates_to":{"rel_type":"m.thread","event_id":"$i0"}}`),
				[]string{paths[2]}},
			{"redaction", redactionLine("$rd", "@a:example.org", 1767226100000, "$i3", "spam"),
				[]string{paths[0], paths[1], paths[4], paths[5]}},
		}
		for _, ch := range changes {
			e.addEvents(t, ch.line)
			for _, p := range ch.paths {
				rec := conditionalGet(e, p, etags[p])
				if rec.Code == http.StatusNotModified || rec.Header().Get("ETag") == etags[p] {
					t.Errorf("after the %s, %s = %d with the same ETag %s", ch.name, p, rec.Code, etags[p])
				}
				etags[p] = rec.Header().Get("ETag")
			}
		}
	})
}

// TestRenderingStopsWhenTheRequestIsDone: a request whose context ends
// while its page is rendered stops rendering at the next message and gets
// a 503, on every route that renders messages.
func TestRenderingStopsWhenTheRequestIsDone(t *testing.T) {
	const n = 40
	paths := []string{
		"/room/!x:example.org/2026-01-01",
		"/room/!x:example.org/thread/$i0",
		"/api/v1/rooms/!x:example.org/events?date=2026-01-01",
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var calls atomic.Int64
		var cancel atomic.Pointer[context.CancelFunc]
		// The first image rendered cancels its request, as a client
		// that goes away would.
		r := countingRenderer(&calls, func() {
			if c := cancel.Load(); c != nil {
				(*c)()
			}
		})
		e := newEnvRender(t, st, r, web.Options{}, imageRoom(t, n))
		for _, p := range paths {
			ctx, c := context.WithCancel(context.Background())
			cancel.Store(&c)
			calls.Store(0)
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil).WithContext(ctx))
			c()
			if rec.Code != http.StatusServiceUnavailable || calls.Load() > 1 {
				t.Errorf("GET %s cancelled while rendering = %d after rendering %d images, want 503 after 1", p, rec.Code, calls.Load())
			}
		}
	})
	t.Run("deadline", func(t *testing.T) {
		var calls atomic.Int64
		// The first image rendered takes longer than the request may.
		r := countingRenderer(&calls, func() {
			if calls.Load() == 1 {
				time.Sleep(600 * time.Millisecond)
			}
		})
		e := newEnvRender(t, storetest.Open(t, "sqlite"), r, web.Options{RequestTimeout: 500 * time.Millisecond}, imageRoom(t, n))
		for _, p := range paths {
			calls.Store(0)
			rec := e.get(t, p)
			if rec.Code != http.StatusServiceUnavailable || calls.Load() > 1 || !strings.Contains(rec.Body.String(), "took too long") {
				t.Errorf("GET %s past its deadline = %d after rendering %d images, want 503 after 1: %.300s", p, rec.Code, calls.Load(), rec.Body)
			}
		}
	})
}

// TestTextLogCannotBeForged: names and bodies with line breaks and control
// characters cannot add lines of their own to the plain-text log.
func TestTextLogCannotBeForged(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		`{"event_id":"$je","room_id":"!x:example.org","type":"m.room.member","sender":"@eve:example.org","origin_server_ts":1767225600100,"state_key":"@eve:example.org","content":{"membership":"join","displayname":"Eve\n[12:00:00] <admin> the name's fake line\r[12:00:01] <admin> and a CR one\u2028x\u0085y\u001b[2J"}}`,
		`{"event_id":"$em","room_id":"!x:example.org","type":"m.room.message","sender":"@eve:example.org","origin_server_ts":1767225601000,"content":{"msgtype":"m.text","body":"hello\n[12:00:02] <admin> a body's fake line\r[12:00:03] <admin> a CR one\r\n\u2028[12:00:04] <admin> LS\u0085[12:00:05] <admin> NEL\u0007\ttab\n\n"}}`,
		msgLine("$ok", 1767225602000, `{"msgtype":"m.text","body":"two\nlines"}`),
	))
	rec := e.get(t, "/room/!x:example.org/2026-01-01.txt")
	if rec.Code != http.StatusOK {
		t.Fatalf("txt = %d", rec.Code)
	}
	text := rec.Body.String()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for i, l := range lines {
		switch {
		case i == 0 && strings.HasPrefix(l, "# "):
		case strings.HasPrefix(l, "[00:00:0"): // the messages' own times
		case strings.HasPrefix(l, "    "):
		default:
			t.Errorf("line %d is not a message's line nor its continuation: %q", i, l)
		}
		if strings.ContainsAny(l, "\r\u2028\u2029\u0085\u001b\u0007") {
			t.Errorf("line %d keeps a control character: %q", i, l)
		}
	}
	if strings.Count(text, "\n[") != 2 {
		t.Errorf("want 2 message lines:\n%s", text)
	}
	if !strings.Contains(text, "<Eve␊[12:00:00] ‹admin› the name's fake line␍[12:00:01] ‹admin› and a CR one\ufffdx\ufffdy␛[2J> hello\n    [12:00:02] <admin> a body's fake line\n    [12:00:03] <admin> a CR one\n    \n    [12:00:04] <admin> LS\n    [12:00:05] <admin> NEL␇\ttab\n") {
		t.Errorf("forged name and body not shown as one message:\n%s", text)
	}
	if !strings.Contains(text, "> two\n    lines\n") {
		t.Errorf("a message's second line is not continued:\n%s", text)
	}
}

// TestAPIContentURL: the API passes on a message's url only when it is a
// valid mxc URI.
func TestAPIContentURL(t *testing.T) {
	urls := map[string]string{
		"$good":   "mxc://example.org/abc_DEF-1",
		"$js":     "javascript:alert(1)",
		"$https":  "https://evil.example/x.png",
		"$dots":   "mxc://example.org/../../admin",
		"$server": "mxc://ex ample.org/abc",
		"$query":  "mxc://example.org/abc?x=1",
		"$nomed":  "mxc://example.org/",
	}
	var lines []string
	ts := int64(1767225601000)
	for evID, u := range urls {
		ts++
		b, _ := json.Marshal(map[string]string{"msgtype": "m.image", "body": "x.png", "url": u})
		lines = append(lines, msgLine(evID, ts, string(b)))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, lines...))
		var day struct {
			Events []struct {
				EventID string `json:"event_id"`
				Content *struct {
					URL *string `json:"url"`
				} `json:"content"`
			} `json:"events"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-01"), http.StatusOK, &day)
		seen := 0
		for _, ev := range day.Events {
			want, ok := urls[ev.EventID]
			if !ok {
				continue
			}
			seen++
			if ev.Content == nil {
				t.Errorf("%s: no content", ev.EventID)
				continue
			}
			switch {
			case ev.EventID == "$good" && (ev.Content.URL == nil || *ev.Content.URL != want):
				t.Errorf("%s: url %v, want %q", ev.EventID, ev.Content.URL, want)
			case ev.EventID != "$good" && ev.Content.URL != nil:
				t.Errorf("%s: url %q passed on", ev.EventID, *ev.Content.URL)
			}
		}
		if seen != len(urls) {
			t.Errorf("saw %d of %d messages", seen, len(urls))
		}
		var one struct {
			Content struct {
				URL *string `json:"url"`
			} `json:"content"`
		}
		decode(t, e.get(t, "/api/v1/events/$js"), http.StatusOK, &one)
		if one.Content.URL != nil {
			t.Errorf("/api/v1/events/$js: url %q passed on", *one.Content.URL)
		}
	})
}

// TestBoundsAreTold: relations past store.MaxRelated and rooms past
// store.MaxDirectoryRooms are not loaded, and the reader is told so.
func TestBoundsAreTold(t *testing.T) {
	lines := []string{msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"popular"}`)}
	for i := range store.MaxRelated + 1 {
		lines = append(lines,
			fmt.Sprintf(`{"event_id":"$r%d","room_id":"!x:example.org","type":"m.reaction","sender":"@u%d:example.org","origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":"👍"}}}`, i, i, 1767225602000+i),
			fmt.Sprintf(`{"event_id":"$t%d","room_id":"!x:example.org","type":"m.room.message","sender":"@u%d:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"me too","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}}`, i, i, 1767225602000+i))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, lines...))
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		m := msgByID(doc, "$m")
		if n := m.Find(".reactions .n").Text(); n != fmt.Sprint(store.MaxRelated) {
			t.Errorf("reaction count %q", n)
		}
		if note := m.Find(".capped").Text(); !strings.Contains(note, fmt.Sprint(store.MaxRelated)) {
			t.Errorf("no note that reactions were left out: %q", note)
		}
		if th := m.Find("p.thread").Text(); !strings.Contains(th, fmt.Sprintf("%d+ replies", store.MaxRelated)) {
			t.Errorf("thread summary %q does not say there may be more", th)
		}
		thread := e.page(t, "/room/!x:example.org/thread/$m", http.StatusOK)
		if note := thread.Find(".capped").Text(); !strings.Contains(note, fmt.Sprint(store.MaxRelated)) {
			t.Errorf("thread page: no note that replies were left out: %q", note)
		}
		var one struct {
			Truncated bool `json:"relations_truncated"`
		}
		decode(t, e.get(t, "/api/v1/events/$m"), http.StatusOK, &one)
		if !one.Truncated {
			t.Error("API: relations_truncated not set")
		}
	})

	var rooms []string
	for i := range store.MaxDirectoryRooms + 1 {
		r := fmt.Sprintf("!room%d:example.org", i)
		rooms = append(rooms,
			fmt.Sprintf(`{"event_id":"$c%d","room_id":%q,"type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"10"}}`, i, r),
			fmt.Sprintf(`{"event_id":"$h%d","room_id":%q,"type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`, i, r),
			fmt.Sprintf(`{"event_id":"$m%d","room_id":%q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"hi"}}`, i, r, 1767225601000+i))
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoomFile(t, rooms...))
	// The directory is paged: it counts the rooms it lists, and its pages
	// together list store.MaxDirectoryRooms.
	doc := e.page(t, "/", http.StatusOK)
	if n := doc.Find("p.count").Text(); !strings.HasPrefix(n, fmt.Sprintf("%d rooms", store.MaxDirectoryRooms)) {
		t.Errorf("directory count %q, want %d rooms", n, store.MaxDirectoryRooms)
	}
	listed := 0
	for page := 1; page <= store.MaxDirectoryRooms; page++ {
		p := e.page(t, fmt.Sprintf("/?page=%d", page), http.StatusOK)
		listed += p.Find("li.room").Length()
		if p.Find("a.page-next").Length() == 0 {
			break
		}
	}
	if listed != store.MaxDirectoryRooms {
		t.Errorf("directory pages list %d rooms, want %d", listed, store.MaxDirectoryRooms)
	}
	if note := doc.Find(".capped").Text(); !strings.Contains(note, fmt.Sprint(store.MaxDirectoryRooms)) {
		t.Errorf("directory: no note that rooms were left out: %q", note)
	}
	var list struct {
		Rooms     []json.RawMessage `json:"rooms"`
		Truncated bool              `json:"truncated"`
	}
	decode(t, e.get(t, "/api/v1/rooms"), http.StatusOK, &list)
	if len(list.Rooms) != store.MaxDirectoryRooms || !list.Truncated {
		t.Errorf("API rooms: %d, truncated %v", len(list.Rooms), list.Truncated)
	}
}

// TestPermalinkPastTheThreadBound: a reply older than the latest
// store.MaxRelated of its thread still has a working permalink: its day,
// with it highlighted, since the thread page cannot show it.
func TestPermalinkPastTheThreadBound(t *testing.T) {
	lines := []string{msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"root"}`)}
	for i := range store.MaxRelated + 1 {
		lines = append(lines, fmt.Sprintf(`{"event_id":"$t%d","room_id":"!x:example.org","type":"m.room.message","sender":"@u%d:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"reply %d","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}}`, i, i, 1767225602000+i, i))
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
	for _, evID := range []string{"$t0", fmt.Sprintf("$t%d", store.MaxRelated)} {
		doc := e.page(t, "/room/!x:example.org/event/"+evID, http.StatusOK)
		if li := msgByID(doc, evID); !li.HasClass("highlight") {
			t.Errorf("permalink of %s does not show it highlighted", evID)
		}
	}
}
