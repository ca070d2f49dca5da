package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	demoFile  = "../testdata/demo/ansible-community.ndjson"
	demoRoom  = "!aNsIbLeCoMmUnItY:example.org"
	demoSlug  = "ansible-community:example.org"
	editOrig  = "$IN-0ysezAogSjmlPL2rmdMwpMoIg7WpnD7EEYAzTcUo"
	editEvent = "$9oUDb1vdFBliiaqpS6BoS3N3ai1sv7qRRYBYzUo1H78"
	htmlOrig  = "$B7JkLzT_ej5KiiL0lUGC2845OsB2_hxnOU-qInTUAiQ"
	htmlEdit  = "$E3wq-fuNzSzx_TVvgrG9E_u-4Q7wLJjDRP7k0pQiNAw"
	emote     = "$qTpsFCTFhuHNCutywt3eBckHNDJr5H6mJueluZRCzhY"
	notice    = "$ZMb7Th2YLOFscoLZVtWWBZiR_ONtbMkMLKx49ebtvhw"
)

var replies = []string{
	"$fahWZvrMrcns9ELHFCfMSrHxfJbU4PbivEkZB1F0Fbc",
	"$SrBNeewMDTKxUUexlhXHAlerngWQe4a8YGYp8UPQI-U",
	"$U-iq8zsYF349ICY0t1YNvZz3SfA3hPNGl5_OtycISqY",
	"$3P36YYliOl2j_Gzimw3aT-ZUmb8AxBOlkoXWcL8BdG8",
	"$q8Nz0CHEDxkeeAmpl7YeBdojiCu-biWau66FUErMzi8",
}

// fixtureEvents indexes the demo file's events by ID, to compare pages with
// what was sent.
func fixtureEvents(t *testing.T, path string) map[string]*event.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]*event.Event{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ev, err := event.Parse(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		out[string(ev.ID)] = ev
	}
	return out
}

type env struct {
	st  *store.Store
	srv *web.Server
}

func newEnv(t *testing.T, st *store.Store, files ...string) *env {
	t.Helper()
	in := ingest.New(st, storetest.Logger(t), "")
	for _, f := range files {
		if _, err := in.ImportFile(context.Background(), f, ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example"})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, srv: srv}
}

func (e *env) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// do sends a request with the given headers.
func (e *env) do(t *testing.T, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

func (e *env) page(t *testing.T, path string, wantCode int) *goquery.Document {
	t.Helper()
	rec := e.get(t, path)
	if rec.Code != wantCode {
		t.Fatalf("GET %s = %d, want %d; body:\n%.2000s", path, rec.Code, wantCode, rec.Body.String())
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func (e *env) redirect(t *testing.T, path string, wantCode int) string {
	t.Helper()
	rec := e.get(t, path)
	if rec.Code != wantCode {
		t.Fatalf("GET %s = %d, want %d", path, rec.Code, wantCode)
	}
	return rec.Header().Get("Location")
}

// msgByID finds a message's list item. IDs contain characters CSS
// selectors would need escaped, so match the attribute in Go.
func msgByID(doc *goquery.Document, evID string) *goquery.Selection {
	return doc.Find("li").FilterFunction(func(_ int, s *goquery.Selection) bool {
		v, _ := s.Attr("id")
		return v == evID
	})
}

func TestDirectory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile, "../testdata/demo/opendev-infra.ndjson")
		doc := e.page(t, "/", http.StatusOK)
		names := doc.Find("li.room .room-name").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
		if fmt.Sprint(names) != "[OpenDev Infra Ansible Community]" {
			t.Errorf("rooms (most recent first) = %v", names)
		}
		ansible := doc.Find("li.room").Last()
		if href, _ := ansible.Find(".room-name").Attr("href"); href != "/room/"+demoSlug {
			t.Errorf("room link = %q", href)
		}
		if got := ansible.Find(".count").Text(); got != "97 messages" {
			t.Errorf("count = %q", got)
		}
		if ansible.Find(".alias").Text() != "#ansible-community:example.org" || ansible.Find(".avatar").Text() != "A" {
			t.Errorf("alias/avatar = %q %q", ansible.Find(".alias").Text(), ansible.Find(".avatar").Text())
		}
	})
}

func TestDayPage(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile)
		latest := e.redirect(t, "/room/"+demoSlug, http.StatusFound)
		if latest != "/room/"+demoSlug+"/2026-03-07" {
			t.Errorf("latest day redirect = %q", latest)
		}
		doc := e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
		if doc.Find("h1").Text() != "Ansible Community" {
			t.Errorf("h1 = %q", doc.Find("h1").Text())
		}
		prev, _ := doc.Find("nav.days a.prev").First().Attr("href")
		next, _ := doc.Find("nav.days a.next").First().Attr("href")
		if prev != "/room/"+demoSlug+"/2026-03-02" || next != "/room/"+demoSlug+"/2026-03-04" {
			t.Errorf("prev/next = %q %q", prev, next)
		}
		msgs := doc.Find("ol.timeline > li.msg")
		if msgs.Length() < 10 {
			t.Fatalf("only %d messages on the page", msgs.Length())
		}
		// Every message: name, MXID, time, permalink, and a correct matrix.to link.
		msgs.Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Attr("id")
			ev := fx[id]
			if ev == nil {
				t.Errorf("message %q is not in the fixture", id)
				return
			}
			if s.Find(".sender").Text() == "" || s.Find(".mxid").Text() != string(ev.Sender) {
				t.Errorf("%s: sender %q mxid %q", id, s.Find(".sender").Text(), s.Find(".mxid").Text())
			}
			perma, _ := s.Find("a.time").Attr("href")
			if perma != "/room/"+demoSlug+"/event/"+id {
				t.Errorf("%s: permalink %q", id, perma)
			}
			mt, _ := s.Find("a.matrixto").Attr("href")
			if want := "https://matrix.to/#/%21aNsIbLeCoMmUnItY:example.org/" + id + "?via=example.org&via=matrix.org&via=chat.libre.example"; mt != want {
				t.Errorf("%s: matrix.to = %q, want %q", id, mt, want)
			}
		})
		// The edit is applied, marked, and never shown as its own message.
		orig := msgByID(doc, editOrig)
		newBody := event.StringField(mustNewContent(t, fx[editEvent]), "body")
		oldBody := event.StringField(fx[editOrig].Content, "body")
		if !strings.Contains(orig.Find(".body").Text(), newBody) || strings.Contains(orig.Find(".body").Text(), oldBody) {
			t.Errorf("edited message shows %q; want %q not %q", orig.Find(".body").Text(), newBody, oldBody)
		}
		if orig.Find(".edited").Length() != 1 || msgByID(doc, editEvent).Length() != 0 {
			t.Error("edit marker missing, or the edit shown as a message")
		}
	})
}

func mustNewContent(t *testing.T, ev *event.Event) json.RawMessage {
	nc, ok := event.NewContent(ev.Content)
	if !ok {
		t.Fatalf("%s has no m.new_content", ev.ID)
	}
	return nc
}

// Replies show who and what they answer, and never the fallback quote.
func TestRepliesDoNotLeakFallbacks(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	for _, r := range replies {
		ev := fx[r]
		loc := e.redirect(t, "/event/"+url.PathEscape(r), http.StatusFound)
		page := e.page(t, loc, http.StatusOK)
		li := msgByID(page, r)
		if li.Length() != 1 || !li.HasClass("highlight") {
			t.Fatalf("%s: not highlighted on its permalink page", r)
		}
		body := event.StringField(ev.Content, "body")
		quoted := strings.SplitN(body, "\n", 2)[0] // "> <@user:server> quoted text"
		quotedText := strings.TrimSpace(quoted[strings.Index(quoted, ">")+1:])
		quotedText = strings.TrimSpace(quotedText[strings.Index(quotedText, ">")+1:])
		if got := li.Find(".body").Text(); quotedText != "" && strings.Contains(got, quotedText) {
			t.Errorf("%s: body leaks the reply fallback %q: %q", r, quotedText, got)
		}
		rt := li.Find("a.reply-to")
		parent := fx[string(event.ParseRelation(ev.Content).ReplyTo)]
		href, _ := rt.Attr("href")
		if parent == nil || href != "/room/"+demoSlug+"/event/"+string(parent.ID) || rt.Find(".reply-sender").Text() == "" {
			t.Errorf("%s: reply link %q sender %q", r, href, rt.Find(".reply-sender").Text())
		}
	}
}

func TestEmoteNoticeReactions(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	doc := e.page(t, e.redirect(t, "/event/"+emote, http.StatusFound), http.StatusOK)
	if li := msgByID(doc, emote); !li.HasClass("emote") || !strings.HasPrefix(li.Find(".sender").Text(), "* ") {
		t.Errorf("emote not styled: class %q sender %q", li.AttrOr("class", ""), li.Find(".sender").Text())
	}
	doc = e.page(t, e.redirect(t, "/event/"+notice, http.StatusFound), http.StatusOK)
	li := msgByID(doc, notice)
	if !li.HasClass("notice") {
		t.Errorf("notice not styled: %q", li.AttrOr("class", ""))
	}
	got := li.Find(".reactions summary").Map(func(_ int, s *goquery.Selection) string {
		return strings.Join(strings.Fields(s.Text()), " ")
	})
	if fmt.Sprint(got) != "[🎉 2 🚀 1]" {
		t.Errorf("reactions = %v", got)
	}
}

func TestPermalinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile)
		// /event/{id} redirects to the canonical permalink.
		if loc := e.redirect(t, "/event/"+editOrig, http.StatusFound); loc != "/room/"+demoSlug+"/event/"+editOrig {
			t.Errorf("/event redirect = %q", loc)
		}
		// A permalink through the room ID (stale once the room has an alias)
		// moves to the alias, temporarily: slugs change with aliases.
		if loc := e.redirect(t, "/room/"+demoRoom+"/event/"+editOrig, http.StatusFound); loc != "/room/"+demoSlug+"/event/"+editOrig {
			t.Errorf("stale room redirect = %q", loc)
		}
		if loc := e.redirect(t, "/room/"+demoRoom+"/2026-03-03", http.StatusFound); loc != "/room/"+demoSlug+"/2026-03-03" {
			t.Errorf("stale day redirect = %q", loc)
		}
		// A permalink to an edit resolves to the original it edits.
		if loc := e.redirect(t, "/room/"+demoSlug+"/event/"+htmlEdit, http.StatusFound); loc != "/room/"+demoSlug+"/event/"+htmlOrig {
			t.Errorf("edit permalink = %q", loc)
		}
		doc := e.page(t, "/room/"+demoSlug+"/event/"+htmlOrig, http.StatusOK)
		if li := msgByID(doc, htmlOrig); !li.HasClass("highlight") {
			t.Error("permalinked message not highlighted")
		}
		// Unknown, malformed and garbage.
		doc = e.page(t, "/event/$doesnotexist", http.StatusNotFound)
		if !strings.Contains(doc.Find(".message").Text(), "no event $doesnotexist") {
			t.Errorf("404 page says %q", doc.Find(".message").Text())
		}
		e.page(t, "/event/nodollar", http.StatusBadRequest)
		e.page(t, "/room/nosuch:example.org/2026-03-03", http.StatusNotFound)
		doc = e.page(t, "/room/"+demoSlug+"/2026-13-45", http.StatusBadRequest)
		if !strings.Contains(doc.Find(".message").Text(), "2026-03-02") {
			t.Errorf("bad date message = %q", doc.Find(".message").Text())
		}
		e.page(t, "/room/%23"+demoSlug+"/2026-03-03", http.StatusBadRequest)
		// A day without messages is a 404 that still links to the nearest days.
		doc = e.page(t, "/room/"+demoSlug+"/2026-03-05", http.StatusNotFound)
		if doc.Find("nav.days a.prev").Length() == 0 || doc.Find("nav.days a.next").Length() == 0 {
			t.Error("empty day has no prev/next links")
		}
		// HEAD works like GET.
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/room/"+demoSlug+"/2026-03-03", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD = %d", rec.Code)
		}
	})
}

// writeRoom writes a small world-readable room with the given extra events.
func writeRoom(t testing.TB, extra ...string) string {
	t.Helper()
	lines := []string{
		`{"event_id":"$c","room_id":"!x:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"3"}}`,
		`{"event_id":"$hv","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
		`{"event_id":"$j","room_id":"!x:example.org","type":"m.room.member","sender":"@a:example.org","origin_server_ts":1767225600002,"state_key":"@a:example.org","content":{"membership":"join","displayname":"Ann"}}`,
	}
	p := filepath.Join(t.TempDir(), "room.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(append(lines, extra...), "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// retentionLine is room !x's m.room.retention state event, sent at ts,
// with the given max_lifetime (ms).
func retentionLine(ts, maxLifetime int64) string {
	return fmt.Sprintf(`{"event_id":"$ret","room_id":"!x:example.org","type":"m.room.retention","sender":"@a:example.org","origin_server_ts":%d,"state_key":"","content":{"max_lifetime":%d}}`, ts, maxLifetime)
}

func msgLine(evID string, ts int64, content string) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":%s}`, evID, ts, content)
}

// TestPercentInNames: room IDs, aliases and event IDs may hold '%' (and
// '/'): each link the archive gives one leads to it, and none leads to
// the one whose name is its text unescaped once more ("%25" read as "%").
func TestPercentInNames(t *testing.T) {
	rooms := []struct{ id, alias, ev, body string }{
		{"!per%cent:example.org", "#per%cent:example.org", "$p%1", "one percent"},
		{"!per%25cent:example.org", "", "$p%252", "two escaped"},
		{"!sl/ash%2F:example.org", "#a%41b:example.org", "$s/l%2F3", "three slashes"},
		{"!plain:example.org", "#aAb:example.org", "$plain4", "four plain"},
	}
	var lines []string
	for i, r := range rooms {
		ts := int64(1767225600000 + i*10)
		state := func(typ, key, content string, dt int64) {
			lines = append(lines, fmt.Sprintf(`{"event_id":"$%s%d","room_id":%q,"type":%q,"sender":"@a:example.org","origin_server_ts":%d,"state_key":%q,"content":%s}`,
				typ, i, r.id, typ, ts+dt, key, content))
		}
		state("m.room.create", "", `{"room_version":"1"}`, 0)
		state("m.room.history_visibility", "", `{"history_visibility":"world_readable"}`, 1)
		state("m.room.member", "@a:example.org", `{"membership":"join"}`, 2)
		if r.alias != "" {
			state("m.room.canonical_alias", "", fmt.Sprintf(`{"alias":%q}`, r.alias), 3)
		}
		lines = append(lines, fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`,
			r.ev, r.id, ts+5, r.body))
	}
	p := filepath.Join(t.TempDir(), "rooms.ndjson")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), p)
	segment := func(s string) string { return strings.ReplaceAll(url.PathEscape(s), "%21", "!") }
	for _, r := range rooms {
		slug := r.id
		if r.alias != "" {
			slug = r.alias[1:]
		}
		// The permalink, reached from /event/ as a matrix.to link would.
		loc := e.redirect(t, "/event/"+url.PathEscape(r.ev), http.StatusFound)
		if want := "/room/" + segment(slug) + "/event/" + segment(r.ev); loc != want {
			t.Errorf("%s: /event/ redirects to %q, want %q", r.id, loc, want)
		}
		doc := e.page(t, loc, http.StatusOK)
		if li := msgByID(doc, r.ev); !li.HasClass("highlight") || !strings.Contains(li.Text(), r.body) {
			t.Errorf("%s: its permalink %s does not show %s", r.id, loc, r.ev)
		}
		// The day page by the room's link, and its JSON day.
		day := e.page(t, "/room/"+segment(slug)+"/2026-01-01", http.StatusOK)
		if got := day.Find("main").Text(); !strings.Contains(got, r.body) {
			t.Errorf("%s: its day page /room/%s/2026-01-01 does not show %q", r.id, segment(slug), r.body)
		}
		for _, other := range rooms {
			if other.body != r.body && strings.Contains(day.Find("main").Text(), other.body) {
				t.Errorf("%s: its day page shows %q of %s", r.id, other.body, other.id)
			}
		}
		if rec := e.get(t, "/sitemap/"+segment(slug)+".xml"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "/2026-01-01<") {
			t.Errorf("%s: its sitemap = %d %.300s", r.id, rec.Code, rec.Body)
		}
		rec := e.get(t, "/api/v1/rooms/"+url.PathEscape(r.id)+"/events?date=2026-01-01")
		var got struct {
			Events []struct {
				EventID string `json:"event_id"`
			} `json:"events"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil || len(got.Events) == 0 || got.Events[len(got.Events)-1].EventID != r.ev {
			t.Errorf("%s: JSON day = %d %.300s", r.id, rec.Code, rec.Body)
		}
	}
}

// Room v3 event IDs are standard base64: '/' and '+' must survive URLs.
func TestV3EventIDs(t *testing.T) {
	const evID = "$ab/cd+ef/gh"
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine(evID, 1767225601000, `{"msgtype":"m.text","body":"slashes"}`)))
	loc := e.redirect(t, "/event/"+url.PathEscape(evID), http.StatusFound)
	if loc != "/room/!x:example.org/event/$ab%2Fcd+ef%2Fgh" {
		t.Errorf("redirect = %q", loc)
	}
	doc := e.page(t, loc, http.StatusOK)
	li := msgByID(doc, evID)
	if !li.HasClass("highlight") {
		t.Fatal("v3 event not found on its permalink page")
	}
	if mt, _ := li.Find("a.matrixto").Attr("href"); mt != "https://matrix.to/#/%21x:example.org/$ab%2Fcd+ef%2Fgh?via=example.org" {
		t.Errorf("matrix.to = %q", mt)
	}
	rec := e.get(t, "/api/v1/events/"+url.PathEscape(evID))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["event_id"] != evID {
		t.Errorf("API = %d %s", rec.Code, rec.Body)
	}
}

func TestHostileHTMLIsSanitized(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$evil", 1767225601000, `{"msgtype":"m.text","body":"hi","format":"org.matrix.custom.html","formatted_body":"<img src=x onerror=alert(1)><a href=\"javascript:alert(2)\">click</a><script>alert(3)</script><b>bold</b>"}`)))
	rec := e.get(t, "/room/!x:example.org/2026-01-01")
	body := rec.Body.String()
	for _, bad := range []string{"onerror", "javascript:", "<script>alert"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(body, "<b>bold</b>") {
		t.Error("allowed markup was lost")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
}

func TestRedactedMessageIsGoneEverywhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"the launch code is 0000"}`),
			msgLine("$edit", 1767225602000, `{"msgtype":"m.text","body":"* the launch code is 1234","m.new_content":{"msgtype":"m.text","body":"the launch code is 1234"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`),
			msgLine("$reply", 1767225603000, `{"msgtype":"m.text","body":"> <@a:example.org> the launch code is 1234\n\nplease delete that","m.relates_to":{"m.in_reply_to":{"event_id":"$m"}}}`),
			`{"event_id":"$red","room_id":"!x:example.org","type":"m.room.redaction","sender":"@a:example.org","origin_server_ts":1767225604000,"redacts":"$m","content":{"reason":"oops"}}`,
		))
		for _, path := range []string{
			"/room/!x:example.org/2026-01-01", "/room/!x:example.org/event/$m", "/room/!x:example.org/2026-01-01.txt",
			"/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/api/v1/events/$m", "/api/v1/events/$reply",
		} {
			rec := e.get(t, path)
			if rec.Code != http.StatusOK {
				t.Errorf("%s = %d", path, rec.Code)
			}
			if strings.Contains(rec.Body.String(), "launch code") {
				t.Errorf("%s still shows the redacted text:\n%s", path, rec.Body)
			}
		}
		doc := e.page(t, "/room/!x:example.org/event/$m", http.StatusOK)
		del := msgByID(doc, "$m").Find(".body.deleted").Text()
		if !strings.Contains(del, "deleted by @a:example.org") || !strings.Contains(del, "oops") || !strings.Contains(del, "applied") {
			t.Errorf("placeholder = %q", del)
		}
		if got := msgByID(doc, "$reply").Find("a.reply-to").Text(); !strings.Contains(got, "a deleted message") {
			t.Errorf("reply to deleted = %q", got)
		}
		var api struct {
			Redacted   bool   `json:"redacted"`
			RedactedBy string `json:"redacted_by"`
			RedactedAt string `json:"redacted_at"`
			AppliedAt  string `json:"applied_at"`
		}
		json.Unmarshal(e.get(t, "/api/v1/events/$m").Body.Bytes(), &api)
		if !api.Redacted || api.RedactedBy != "@a:example.org" || api.RedactedAt != "2026-01-01T00:00:04Z" || api.AppliedAt == "" {
			t.Errorf("API redaction fields = %+v", api)
		}
	})
}

func TestAPI(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile)
		var rooms struct {
			Rooms []struct {
				RoomID       string `json:"room_id"`
				Alias        string `json:"canonical_alias"`
				MessageCount int    `json:"message_count"`
				URL          string `json:"url"`
			} `json:"rooms"`
		}
		list := e.get(t, "/api/v1/rooms")
		decode(t, list, http.StatusOK, &rooms)
		if len(rooms.Rooms) != 1 || rooms.Rooms[0].RoomID != demoRoom || rooms.Rooms[0].MessageCount != 97 ||
			rooms.Rooms[0].URL != "https://archive.example/room/"+demoSlug {
			t.Errorf("rooms = %+v", rooms)
		}
		// Revalidated by its ETag, as the other API answers are.
		etag := list.Header().Get("ETag")
		if etag == "" || list.Header().Get("Cache-Control") != "public, no-cache" {
			t.Errorf("/api/v1/rooms: ETag %q, Cache-Control %q", etag, list.Header().Get("Cache-Control"))
		}
		if rec := e.do(t, http.MethodGet, "/api/v1/rooms", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
			t.Errorf("/api/v1/rooms with its ETag = %d", rec.Code)
		}
		var day struct {
			Date     string `json:"date"`
			Previous string `json:"previous_date"`
			Next     string `json:"next_date"`
			Events   []struct {
				EventID   string `json:"event_id"`
				Text      string `json:"text"`
				Edited    bool   `json:"edited"`
				Permalink string `json:"permalink"`
				MatrixTo  string `json:"matrix_to"`
			} `json:"events"`
		}
		decode(t, e.get(t, "/api/v1/rooms/"+demoSlug+"/events?date=2026-03-03"), http.StatusOK, &day)
		if day.Previous != "2026-03-02" || day.Next != "2026-03-04" || len(day.Events) < 10 {
			t.Fatalf("day = %s %s %d events", day.Previous, day.Next, len(day.Events))
		}
		for _, ev := range day.Events {
			if ev.EventID == editOrig {
				if !ev.Edited || ev.Text != event.StringField(mustNewContent(t, fx[editEvent]), "body") {
					t.Errorf("edited event in API: %+v", ev)
				}
				if ev.Permalink != "https://archive.example/room/"+demoSlug+"/event/"+editOrig {
					t.Errorf("permalink = %q", ev.Permalink)
				}
			}
		}
		var one struct {
			EventID    string `json:"event_id"`
			SenderName string `json:"sender_name"`
			Content    struct {
				Body string `json:"body"`
			} `json:"content"`
		}
		decode(t, e.get(t, "/api/v1/events/"+replies[0]), http.StatusOK, &one)
		if one.EventID != replies[0] || one.SenderName == "" || strings.HasPrefix(one.Content.Body, "> ") {
			t.Errorf("event = %+v", one)
		}
		var apiErr struct {
			ErrCode string `json:"errcode"`
			Error   string `json:"error"`
		}
		decode(t, e.get(t, "/api/v1/events/$nope"), http.StatusNotFound, &apiErr)
		if apiErr.ErrCode != "M_NOT_FOUND" || apiErr.Error == "" {
			t.Errorf("404 = %+v", apiErr)
		}
		decode(t, e.get(t, "/api/v1/rooms/"+demoSlug+"/events?date=yesterday"), http.StatusBadRequest, &apiErr)
		decode(t, e.get(t, "/api/v1/rooms/"+demoSlug+"/events"), http.StatusBadRequest, &apiErr)
		if !strings.Contains(apiErr.Error, "date") {
			t.Errorf("missing date error = %+v", apiErr)
		}
	})
}

func decode(t *testing.T, rec *httptest.ResponseRecorder, wantCode int, v any) {
	t.Helper()
	if rec.Code != wantCode {
		t.Fatalf("status %d, want %d: %s", rec.Code, wantCode, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode: %v: %s", err, rec.Body)
	}
}

func TestPlainTextLog(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	rec := e.get(t, "/room/"+demoSlug+"/2026-03-03.txt")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("txt = %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	text := rec.Body.String()
	if !strings.Contains(text, "* Diego Ferreira ") || !strings.Contains(text, "(edited)") {
		t.Errorf("log lacks the emote or edit marker:\n%s", text)
	}
	for _, r := range replies {
		if body := event.StringField(fx[r].Content, "body"); strings.Contains(text, strings.SplitN(body, "\n", 2)[0]) {
			t.Errorf("log contains reply fallback of %s", r)
		}
	}
}

func TestHistoryGapIsShown(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newEnv(t, st, demoFile)
	doc := e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
	if doc.Find(".history-note").Length() != 0 {
		t.Error("a history note without any sync state")
	}
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	if err := st.SetRoomSync(context.Background(), store.RoomSync{RoomID: demoRoom, CompleteFrom: from}); err != nil {
		t.Fatal(err)
	}
	doc = e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
	if got := doc.Find(".history-note").Text(); !strings.Contains(got, "2 March 2026, 09:00 UTC") {
		t.Errorf("history note = %q", got)
	}
}

func TestRoomFooterSaysHowToStopArchiving(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newEnv(t, st, demoFile)
	var err error
	e.srv, err = web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{Bot: "@archive:example.org"})
	if err != nil {
		t.Fatal(err)
	}
	got := e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK).Find("footer .consent").Text()
	if !strings.Contains(got, "search engines may index") || !strings.Contains(got, "removing @archive:example.org") {
		t.Errorf("footer = %q", got)
	}
}

// A hostile room claiming another room's alias takes none of its URLs: it
// keeps room-ID URLs, the alias still serves the real room, and the real
// room's room-ID URLs redirect (temporarily) to the real room's alias.
func TestAliasSquatting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		squatter := writeRoom(t,
			`{"event_id":"$squat","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":{"alias":"#`+demoSlug+`"}}`,
			msgLine("$hijack", 1767225601000, `{"msgtype":"m.text","body":"hijacked"}`))
		e := newEnv(t, st, demoFile, squatter)
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		doc.Find("a[href]").Each(func(_ int, a *goquery.Selection) {
			if href, _ := a.Attr("href"); strings.Contains(href, demoSlug) {
				t.Errorf("the squatter's page links to the alias: %s", href)
			}
		})
		doc = e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
		if msgByID(doc, editOrig).Length() == 0 || strings.Contains(doc.Text(), "hijacked") {
			t.Error("the alias does not serve the real room")
		}
		if loc := e.redirect(t, "/room/"+demoRoom+"/2026-03-03", http.StatusFound); loc != "/room/"+demoSlug+"/2026-03-03" {
			t.Errorf("the real room's ID URL redirects to %q", loc)
		}
		if rec := e.get(t, "/room/"+demoSlug+"/2026-01-01.txt"); strings.Contains(rec.Body.String(), "hijacked") {
			t.Error("the alias's text log shows the squatter")
		}
		if rec := e.get(t, "/sitemap/!x:example.org.xml"); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), demoSlug) {
			t.Errorf("the squatter's sitemap = %d:\n%s", rec.Code, rec.Body.String())
		}
	})
}

// An alias whose localpart starts with '!' or '#' would make a slug that
// reads as a room ID (another room's) or as a refused '#': such a room
// keeps its room-ID URLs.
func TestAliasSlugsThatReadAsSomethingElse(t *testing.T) {
	for _, alias := range []string{"##hash:example.org", "#!other:example.org"} {
		t.Run(alias, func(t *testing.T) {
			e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
				`{"event_id":"$ca","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":{"alias":"`+alias+`"}}`,
				msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"hello"}`)))
			e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		})
	}
}

// TestAnswersAreUTF8: an address whose escapes are not UTF-8 gets an
// answer that is, wherever the answer quotes it.
func TestAnswersAreUTF8(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"hi"}`)))
	for _, path := range []string{
		"/room/%ff%fe:example.org", "/room/%c0%af:example.org/2026-01-01", "/room/%ed%a0%80", "/room/!x:example.org/%ff",
		"/room/!x:example.org/event/$%ff", "/room/!x:example.org/thread/$%ed%a0%80", "/room/!x:example.org/calendar/%ff",
		"/room/!x:example.org/2026-01-01?after=$%ff", "/room/!x:example.org/meeting/%ff", "/sitemap/%ff.xml",
		"/api/v1/rooms/%ff/events?date=2026-01-01", "/api/v1/events/$%ff", "/event/$%ff",
		"/search?q=%ff", "/search?q=hi&in=%ff", "/api/v1/search?q=%ff", "/search/feed.atom?q=%ff", "/search/feed.atom?q=hi%ff",
	} {
		rec := e.get(t, path)
		if !utf8.Valid(rec.Body.Bytes()) {
			t.Errorf("GET %s = %d, not UTF-8: %.200q", path, rec.Code, rec.Body)
		}
	}
}

// TestNoServerErrorForBytesTextRefuses: U+0000 and bytes that are not
// UTF-8, which PostgreSQL text refuses, in an anonymous request's room,
// event, cursor or search parameters get an answer (404, 400 or a page
// with nothing), on both databases: on PostgreSQL each was a 500 and an
// error in the log.
func TestNoServerErrorForBytesTextRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile)
		e.withSearch(t)
		for _, path := range []string{
			"/api/v1/rooms/%00x/events?date=2026-03-03", "/api/v1/rooms/%FFx/events?date=2026-03-03",
			"/api/v1/rooms/!%00x:example.org/events?date=2026-03-03", "/api/v1/rooms/!%FFx:example.org/events?date=2026-03-03",
			"/api/v1/events/$%00x", "/api/v1/events/$%FFx",
			"/api/v1/rooms/" + demoSlug + "/events?date=2026-03-03&after=$%00x",
			"/api/v1/rooms/" + demoSlug + "/events?date=2026-03-03&after=$%FFx",
			"/api/v1/rooms/" + demoSlug + "/redactions?before_id=%00", "/api/v1/rooms/" + demoSlug + "/redactions?before_id=%FF",
			"/api/v1/search?q=x&in=" + url.QueryEscape("#a\x00b:example.org"),
			"/api/v1/search?q=x&in=" + url.QueryEscape("!a\x00b:example.org"),
			"/api/v1/search?q=x&sort=newest&in=" + url.QueryEscape("!a\x00b:example.org"),
			"/api/v1/search?q=" + url.QueryEscape("from:@a\x00:example.org"),
			"/search?q=x&in=" + url.QueryEscape("#a\x00b:example.org"),
			"/search/feed.atom?q=x&in=" + url.QueryEscape("!a\x00b:example.org"),
			"/room/%00x", "/room/" + demoSlug + "/event/$%00x", "/event/$%00",
		} {
			if rec := e.get(t, path); rec.Code >= 500 {
				t.Errorf("GET %s = %d: %.300s", path, rec.Code, rec.Body.String())
			}
		}
	})
}

// TestStateEventsAreNoRelations: a state event that says it replaces a
// message (an edit) or relates to one otherwise is shown as what it is: a
// member event renaming its sender or banning someone was left out of the
// day as an edit, and its permalink led to the message it named.
func TestStateEventsAreNoRelations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		member := func(evID, sender, target, content string, ts int64) string {
			return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.member","sender":%q,"state_key":%q,"origin_server_ts":%d,"content":%s}`,
				evID, sender, target, ts, content)
		}
		e := newEnv(t, st, writeRoom(t,
			member("$bob", "@bob:example.org", "@bob:example.org", `{"membership":"join","displayname":"Bob"}`, 1767225600100),
			msgLine("$imp1", 1767225601000, `{"msgtype":"m.text","body":"the real message"}`),
			member("$imp2", "@bob:example.org", "@bob:example.org", `{"membership":"join","displayname":"Ann","m.relates_to":{"rel_type":"m.replace","event_id":"$imp1"}}`, 1767225602000),
			member("$ban1", "@a:example.org", "@bob:example.org", `{"membership":"ban","m.relates_to":{"rel_type":"m.thread","event_id":"$imp1"}}`, 1767225603000),
		))
		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		for _, ev := range []string{"$imp2", "$ban1"} {
			if msgByID(day, ev).Length() != 1 {
				t.Errorf("%s is not on its day's page", ev)
			}
		}
		if li := msgByID(day, "$imp1"); !strings.Contains(li.Text(), "the real message") || strings.Contains(li.Text(), "thread") {
			t.Errorf("the message a state event named shows %q", li.Text())
		}
		if !strings.Contains(day.Text(), "changed their display name to Ann") {
			t.Error("the rename is not on the day's page")
		}
		permalink := e.page(t, "/room/!x:example.org/event/$imp2", http.StatusOK)
		if !msgByID(permalink, "$imp2").HasClass("highlight") {
			t.Error("the rename's permalink does not show it")
		}
	})
}

// TestPermalinksOfRelationsEnd: the permalink of an edit or a reaction
// leads to the message it belongs to, but never round in a loop, to
// another room's message or to a message an edit is not of: those are a
// 404. A message that only says it annotates another is not a reaction,
// and has its own permalink.
func TestPermalinksOfRelationsEnd(t *testing.T) {
	rel := func(evID, room, typ, sender string, ts int64, relType, target string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"* x","m.new_content":{"msgtype":"m.text","body":"x"},"m.relates_to":{"rel_type":%q,"event_id":%q,"key":"k"}}}`,
			evID, room, typ, sender, ts, relType, target)
	}
	const ts = 1767225601000
	lines := []string{
		msgLine("$m1", ts, `{"msgtype":"m.text","body":"one"}`),
		rel("$e1", "!x:example.org", "m.room.message", "@a:example.org", ts+1, "m.replace", "$m1"),
		rel("$r1", "!x:example.org", "m.reaction", "@b:example.org", ts+2, "m.annotation", "$m1"),
		rel("$self", "!x:example.org", "m.room.message", "@a:example.org", ts+5, "m.replace", "$self"),
		rel("$cycA", "!x:example.org", "m.room.message", "@a:example.org", ts+6, "m.replace", "$cycB"),
		rel("$cycB", "!x:example.org", "m.room.message", "@a:example.org", ts+7, "m.replace", "$cycA"),
		rel("$other", "!x:example.org", "m.room.message", "@b:example.org", ts+8, "m.replace", "$m1"),
		rel("$gone", "!x:example.org", "m.room.message", "@a:example.org", ts+9, "m.replace", "$nope"),
		`{"event_id":"$oc","room_id":"!o:example.org","type":"m.room.create","sender":"@b:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"3"}}`,
		`{"event_id":"$ohv","room_id":"!o:example.org","type":"m.room.history_visibility","sender":"@b:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
		rel("$cross", "!o:example.org", "m.reaction", "@b:example.org", ts+10, "m.annotation", "$m1"),
		// A message that says it annotates $m1 is no reaction (only an
		// m.reaction is, event.Resolve): its day shows it as a message,
		// and its permalink shows it there.
		rel("$ann", "!x:example.org", "m.room.message", "@b:example.org", ts+11, "m.annotation", "$m1"),
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
	if li := msgByID(e.page(t, "/room/!x:example.org/event/$ann", http.StatusOK), "$ann"); !li.HasClass("highlight") {
		t.Error("a message with an m.annotation relation is not shown on its own permalink")
	}
	for ev, want := range map[string]string{"$e1": "$m1", "$r1": "$m1", "$gone": "$nope"} {
		if loc := e.redirect(t, "/room/!x:example.org/event/"+url.PathEscape(ev), http.StatusFound); loc != "/room/!x:example.org/event/"+want {
			t.Errorf("%s leads to %q, want %s's permalink", ev, loc, want)
		}
	}
	for _, ev := range []string{"$self", "$cycA", "$cycB", "$other"} {
		e.page(t, "/room/!x:example.org/event/"+url.PathEscape(ev), http.StatusNotFound)
	}
	e.page(t, "/room/!o:example.org/event/$cross", http.StatusNotFound)
}

// TestOnlyRealRelationsCount: an event is counted as a reaction only if it
// is one, and as a thread reply only if it is a message: 500 stickers
// "reacting" to a message or reactions "replying in its thread" took the
// places of the 500 counted and left it showing none of its real
// reactions or replies, and a custom event "in a thread" counted as a
// reply its thread page did not list.
func TestOnlyRealRelationsCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const ts = 1767225601000
		relLine := func(evID, typ string, n int, relType, target, key string) string {
			return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":"@b:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"r %d","url":"mxc://example.org/s","m.relates_to":{"rel_type":%q,"event_id":%q,"key":%q}}}`,
				evID, typ, ts+100+int64(n), n, relType, target, key)
		}
		lines := []string{
			msgLine("$root", ts, `{"msgtype":"m.text","body":"the root"}`),
			msgLine("$tgt", ts+1, `{"msgtype":"m.text","body":"the target"}`),
			msgLine("$w1", ts+2, `{"msgtype":"m.text","body":"one reply"}`),
		}
		for i := range 10 {
			lines = append(lines, relLine(fmt.Sprintf("$reply%d", i), "m.room.message", i, "m.thread", "$root", ""),
				fmt.Sprintf(`{"event_id":"$react%d","room_id":"!x:example.org","type":"m.reaction","sender":"@u%d:example.org","origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$tgt","key":"❤️"}}}`, i, i, ts+20+int64(i)))
		}
		for i := range store.MaxRelated {
			lines = append(lines, relLine(fmt.Sprintf("$fakereply%d", i), "m.reaction", 20+i, "m.thread", "$root", ""),
				relLine(fmt.Sprintf("$fakereact%d", i), "m.sticker", 20+i, "m.annotation", "$tgt", "❤️"))
		}
		lines = append(lines, relLine("$custom", "com.example.custom", 9000, "m.thread", "$w1", ""),
			relLine("$w1reply", "m.room.message", 9001, "m.thread", "$w1", ""))
		e := newEnv(t, st, writeRoom(t, lines...))
		type apiEv struct {
			ThreadCount int `json:"thread_replies"`
			Reactions   []struct {
				Key   string `json:"key"`
				Count int    `json:"count"`
			} `json:"reactions"`
		}
		var root, tgt, w1 apiEv
		decode(t, e.get(t, "/api/v1/events/$root"), http.StatusOK, &root)
		decode(t, e.get(t, "/api/v1/events/$tgt"), http.StatusOK, &tgt)
		decode(t, e.get(t, "/api/v1/events/$w1"), http.StatusOK, &w1)
		if root.ThreadCount != 10 || w1.ThreadCount != 1 {
			t.Errorf("thread replies: the root's %d, want 10; $w1's %d, want 1", root.ThreadCount, w1.ThreadCount)
		}
		if len(tgt.Reactions) != 1 || tgt.Reactions[0].Count != 10 {
			t.Errorf("the target's reactions: %+v, want ❤️ 10", tgt.Reactions)
		}
		thread := e.page(t, "/room/!x:example.org/thread/$root", http.StatusOK)
		for i := range 10 {
			if msgByID(thread, fmt.Sprintf("$reply%d", i)).Length() != 1 {
				t.Errorf("the thread page does not list $reply%d", i)
			}
		}
	})
}

// TestRoomStateOfAnotherKey: a room name or topic event whose state key is
// not "" is not the room's name or topic, and the day does not say the
// room was renamed.
func TestRoomStateOfAnotherKey(t *testing.T) {
	state := func(evID, typ, key, content string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":"@a:example.org","state_key":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, key, ts, content)
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		state("$n1", "m.room.name", "", `{"name":"Real name"}`, 1767225601000),
		state("$n2", "m.room.name", "notempty", `{"name":"FAKE NAME"}`, 1767225602000),
		state("$t2", "m.room.topic", "x", `{"topic":"FAKE TOPIC"}`, 1767225603000),
		msgLine("$m", 1767225604000, `{"msgtype":"m.text","body":"hi"}`),
	))
	day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	if text := day.Find("main").Text(); !strings.Contains(text, "Real name") || strings.Contains(text, "FAKE") {
		t.Errorf("the day's page shows %q", text)
	}
}

// TestRepliesToWhatIsNoMessage: a reply to an event the archive holds
// that is no message of its own (an edit, a state change) says what it
// replies to and links to it, rather than calling it a message not in the
// archive.
func TestRepliesToWhatIsNoMessage(t *testing.T) {
	reply := func(evID, parent string, ts int64) string {
		return msgLine(evID, ts, fmt.Sprintf(`{"msgtype":"m.text","body":"re","m.relates_to":{"m.in_reply_to":{"event_id":%q}}}`, parent))
	}
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$m1", ts, `{"msgtype":"m.text","body":"one"}`),
		msgLine("$e1", ts+1, `{"msgtype":"m.text","body":"* uno","m.new_content":{"msgtype":"m.text","body":"uno"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"}}`),
		reply("$toEdit", "$e1", ts+2),
		reply("$toState", "$hv", ts+3),
		reply("$toNothing", "$nope", ts+4),
	))
	day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	for ev, want := range map[string]string{"$toEdit": "In reply to an edit of a message", "$toState": "In reply to an event that is not a message",
		"$toNothing": "In reply to a message that is not in the archive"} {
		if got := msgByID(day, ev).Find("a.reply-to").Text(); got != "↪ "+want {
			t.Errorf("%s quotes %q, want %q", ev, got, want)
		}
	}
	if href := msgByID(day, "$toEdit").Find("a.reply-to").AttrOr("href", ""); href != "/room/!x:example.org/event/$e1" {
		t.Errorf("the reply to an edit links to %q", href)
	}
}

// TestThreadRepliesWithoutAThreadPage: a thread reply whose root has no
// thread page here (the archive does not hold it, or holds it in another
// room, where a relation to it is not kept, or the root is itself a
// relation: threads do not nest) is shown in full as a message, not as a
// line linking to a thread page that is a 404; the others link to their
// thread's page, which answers, on the root's day or not. A thread reply
// or an edit has no thread page, nor a link to one.
func TestThreadRepliesWithoutAThreadPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const ts = 1767225601000 + 86400000 // 2026-01-02
		reply := func(evID, room, root string, ts int64) string {
			return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"said %s","m.relates_to":{"rel_type":"m.thread","event_id":%q}}}`,
				evID, room, ts, evID, root)
		}
		e := newEnv(t, st, writeRoom(t,
			msgLine("$old", ts-86400000, `{"msgtype":"m.text","body":"yesterday's root"}`),
			msgLine("$here", ts, `{"msgtype":"m.text","body":"today's root"}`),
			reply("$toHere", "!x:example.org", "$here", ts+1),
			reply("$toOld", "!x:example.org", "$old", ts+2),
			reply("$toNothing", "!x:example.org", "$nope", ts+3),
			reply("$toThere", "!x:example.org", "$there", ts+4),
			reply("$toReply", "!x:example.org", "$toHere", ts+5),
			msgLine("$edit", ts+6, `{"msgtype":"m.text","body":"* today's root!","m.new_content":{"msgtype":"m.text","body":"today's root!"},"m.relates_to":{"rel_type":"m.replace","event_id":"$here"}}`),
			reply("$toEdit", "!x:example.org", "$edit", ts+7),
			`{"event_id":"$oc","room_id":"!o:example.org","type":"m.room.create","sender":"@b:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"3"}}`,
			`{"event_id":"$ohv","room_id":"!o:example.org","type":"m.room.history_visibility","sender":"@b:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
			`{"event_id":"$there","room_id":"!o:example.org","type":"m.room.message","sender":"@b:example.org","origin_server_ts":1767225600002,"content":{"msgtype":"m.text","body":"another room's root"}}`,
		))
		day := e.page(t, "/room/!x:example.org/2026-01-02", http.StatusOK)
		for ev, root := range map[string]string{"$toHere": "$here", "$toOld": "$old"} {
			li := msgByID(day, ev)
			href, ok := li.Find("a.thread-reply").Attr("href")
			if want := "/room/!x:example.org/thread/" + root + "#" + ev; !li.HasClass("compact") || href != want {
				t.Errorf("%s: compact %v, links to %q; want a line linking to %s", ev, li.HasClass("compact"), href, want)
			}
			if ok {
				thread := e.page(t, strings.Split(href, "#")[0], http.StatusOK)
				if msgByID(thread, ev).Length() != 1 {
					t.Errorf("%s's thread page does not show it", ev)
				}
			}
		}
		for _, ev := range []string{"$toNothing", "$toThere", "$toReply", "$toEdit"} {
			li := msgByID(day, ev)
			if li.HasClass("compact") || li.Find("a.thread-reply").Length() != 0 || !strings.Contains(li.Text(), "said "+ev) {
				h, _ := goquery.OuterHtml(li)
				t.Errorf("%s is not shown as a message of its own:\n%s", ev, h)
			}
		}
		for _, root := range []string{"$there", "$toHere", "$edit"} {
			e.page(t, "/room/!x:example.org/thread/"+url.PathEscape(root), http.StatusNotFound)
		}
		// $toHere, on its thread's page, has a reply but starts no thread;
		// the JSON day counts no thread replies of it either.
		thread := e.page(t, "/room/!x:example.org/thread/$here", http.StatusOK)
		if n := thread.Find(`a[href*="/thread/$toHere"]`).Length(); n != 0 || msgByID(thread, "$toHere").Length() != 1 {
			t.Errorf("the thread page links %d times to a thread of $toHere", n)
		}
		rec := e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-02")
		var api struct {
			Events []struct {
				EventID string `json:"event_id"`
				Replies int    `json:"thread_replies"`
			} `json:"events"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &api); err != nil {
			t.Fatal(err)
		}
		replies := map[string]int{}
		for _, ev := range api.Events {
			replies[ev.EventID] = ev.Replies
		}
		if replies["$here"] != 1 || replies["$toHere"] != 0 {
			t.Errorf("the JSON day counts thread replies %v, want $here's one and none of $toHere", replies)
		}
	})
}

// TestReactionKeysAreIsolated: a reaction's key and the names of who sent
// it are each isolated from the text around them (an element with dir,
// which HTML isolates, and <bdi>): a key holding U+202E (right-to-left
// override) turned its count around, and a name the names after it.
func TestReactionKeysAreIsolated(t *testing.T) {
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$m1", ts, `{"msgtype":"m.text","body":"one"}`),
		`{"event_id":"$r1","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":1767225601001,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"\u202eevil"}}}`,
	))
	day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	key := msgByID(day, "$m1").Find("ul.reactions .key")
	if key.Text() != "\u202eevil" || key.AttrOr("dir", "") != "auto" {
		h, _ := goquery.OuterHtml(key)
		t.Errorf("the key is not isolated: %s", h)
	}
	if who := msgByID(day, "$m1").Find("ul.reactions .who bdi"); who.Text() != "Ann" {
		t.Errorf("the sender is not isolated: %q", who.Text())
	}
}

// TestStateLinesIsolateWhatUsersWrote: in a state line, each name, room
// name, topic, address and reason is isolated from the archive's words
// around it (<bdi>): a display name holding a right-to-left override
// turned "X banned Y" around, and a topic the rest of its line.
func TestStateLinesIsolateWhatUsersWrote(t *testing.T) {
	const rlo = "\u202e"
	state := func(evID, typ, sender, key string, ts int64, content string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"state_key":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, sender, key, ts, content)
	}
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		state("$jb", "m.room.member", "@b:example.org", "@b:example.org", ts, `{"membership":"join","displayname":"Bob`+rlo+`"}`),
		state("$topic", "m.room.topic", "@a:example.org", "", ts+1, `{"topic":"`+rlo+`evil"}`),
		state("$ban", "m.room.member", "@a:example.org", "@b:example.org", ts+2, `{"membership":"ban","reason":"`+rlo+`spam"}`),
		msgLine("$m1", ts+3, `{"msgtype":"m.text","body":"one"}`),
		msgLine("$re", ts+4, `{"msgtype":"m.text","body":"two","m.relates_to":{"m.in_reply_to":{"event_id":"$m1"}}}`),
		msgLine("$gone", ts+5, `{"msgtype":"m.text","body":"three"}`),
		redactionLine("$red", "@a:example.org", ts+6, "$gone", rlo+"spam"),
		state("$name", "m.room.name", "@a:example.org", "", ts+7, `{"name":"`+rlo+`evil"}`),
	))
	day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	for ev, want := range map[string][]string{
		"$jb":    {"Bob" + rlo},
		"$topic": {"Ann", rlo + "evil"},
		"$ban":   {"Ann", "Bob" + rlo, rlo + "spam"},
	} {
		li := day.Find(`li[id="` + ev + `"]`)
		var got []string
		li.Find("bdi").Each(func(_ int, s *goquery.Selection) { got = append(got, s.Text()) })
		if !slices.Equal(got, want) {
			t.Errorf("%s isolates %q, want %q (%q)", ev, got, want, li.Text())
		}
	}
	// Beside the state lines: the header's topic, a reply's quoted
	// sender and a deletion's reason.
	if day.Find("p.topic").AttrOr("dir", "") != "auto" {
		t.Error("the topic is not isolated")
	}
	if msgByID(day, "$re").Find(".reply-sender").AttrOr("dir", "") != "auto" {
		t.Error("a reply's quoted sender is not isolated")
	}
	if got := msgByID(day, "$gone").Find("bdi").Last().Text(); got != rlo+"spam" {
		t.Errorf("a deletion's reason is not isolated: %q", got)
	}
	// A title is plain text: the room's name is isolated by controls.
	if got := day.Find("title").Text(); !strings.HasPrefix(got, "\u2068"+rlo+"evil\u2069 on 2026-01-01 · ") {
		t.Errorf("the title is %+q", got)
	}
}

// TestErrorPagesHoldNoBidiControls: an error page that quotes its address
// cannot be made to read backwards by it: U+202E (right-to-left override)
// in a link's path is U+FFFD on the page and in the JSON error.
func TestErrorPagesHoldNoBidiControls(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t))
	for _, path := range []string{"/room/%E2%80%AEmoc.elpmaxe:lobby", "/api/v1/rooms/%E2%80%AE!x:example.org/events?date=2026-01-01"} {
		rec := e.get(t, path)
		body := rec.Body.String()
		if rec.Code != http.StatusNotFound || strings.ContainsRune(body, '\u202e') || !strings.ContainsRune(body, '\uFFFD') {
			t.Errorf("GET %s = %d, %q", path, rec.Code, body[max(len(body)-400, 0):])
		}
	}
	// The search page shows its own errors, under the form: the address
	// asked for in in: was quoted as given. (The form shows the query as
	// it was asked, in its field.)
	e.withSearch(t)
	for _, path := range []string{"/search?q=podman+in%3A%23%E2%80%AEevil%3Aexample.org", "/search?q=podman&in=%23%E2%80%AEevil%3Aexample.org"} {
		msg := e.page(t, path, http.StatusBadRequest).Find(".error.message").Text()
		if strings.ContainsRune(msg, '\u202e') || !strings.ContainsRune(msg, '\uFFFD') {
			t.Errorf("GET %s: %q", path, msg)
		}
	}
}

// TestTextLogTellsSharedNamesApart: a display name two senders used that
// day is followed in the text log by each one's user ID, as Matrix
// clients show it; a name only one sender used is left as it is.
func TestTextLogTellsSharedNamesApart(t *testing.T) {
	member := func(evID, user, name string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.member","sender":%q,"state_key":%q,"origin_server_ts":%d,"content":{"membership":"join","displayname":%q}}`, evID, user, user, ts, name)
	}
	said := func(evID, user, body string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":%q}}`, evID, user, ts, body)
	}
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		member("$jb", "@bob:example.org", "Bob", ts),
		member("$jm", "@mallory:example.org", "Bob", ts+1),
		said("$m1", "@bob:example.org", "I am Bob", ts+2),
		said("$m2", "@mallory:example.org", "I am Bob too", ts+3),
		said("$m3", "@a:example.org", "hello", ts+4),
	))
	log := e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String()
	for _, want := range []string{"<Bob (@bob:example.org)> I am Bob\n", "<Bob (@mallory:example.org)> I am Bob too\n", "<Ann> hello\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}
