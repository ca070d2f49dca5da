package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// IRC logs of several formats imported into one new room read like any
// archived history: day pages in order, each line marked as coming from
// IRC (network, channel, log file), the header naming the logs, the
// plain-text log in order, and search finding the lines.
func TestIRCImportPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		alias := "#opendev:irc.example"
		room, err := irclog.RoomID(alias)
		if err != nil {
			t.Fatal(err)
		}
		opts := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{
			Network: "OFTC", Channel: "#opendev", Server: "irc.example", Room: room}}
		in := ingest.New(st, storetest.Logger(t), "")
		files, _ := filepath.Glob("../testdata/irc/*")
		for _, f := range files {
			if _, err := in.ImportFile(context.Background(), f, ingest.ImportOptions{IRC: opts, RouteUnclaimedAliases: true}); err != nil {
				t.Fatalf("import %s: %v", f, err)
			}
		}
		e := newEnv(t, st)
		e.withSearch(t)
		slug := "opendev:irc.example"

		doc := e.page(t, "/room/"+slug+"/2021-08-18", http.StatusOK)
		var bodies []string
		doc.Find("li.msg").Each(func(_ int, s *goquery.Selection) {
			bodies = append(bodies, strings.TrimSpace(s.Find(".sender").Text())+": "+strings.TrimSpace(s.Find(".body").Text()))
		})
		want := []string{
			"fungi: irssi after midnight",
			"corvus: weechat hello €",
			"* corvus: weechat action",
			"ianw: znc line with bold and colour",
			"ianw: znc café in latin-1",
			"frickler: hexchat hello",
			"* frickler: hexchat action",
			"gerritbot: hexchat notice",
			"jrosser: plain first",
			"jrosser: plain second",
			"* jrosser: has some thoughts",
			"* jrosser: plain action",
		}
		if strings.Join(bodies, "\n") != strings.Join(want, "\n") {
			t.Errorf("day page:\n%s\nwant:\n%s", strings.Join(bodies, "\n"), strings.Join(want, "\n"))
		}
		marker := doc.Find("li.msg .irc-origin").First()
		if marker.Length() == 0 || !strings.Contains(marker.Text(), "IRC") || !strings.Contains(marker.AttrOr("title", ""), "irssi-opendev.log, line 10") ||
			!strings.Contains(marker.AttrOr("title", ""), "#opendev on OFTC") {
			t.Errorf("IRC marker of the first line: %q title %q", marker.Text(), marker.AttrOr("title", ""))
		}
		if doc.Find("li.msg .irc-origin").Length() != len(want) {
			t.Errorf("%d of %d lines marked as from IRC", doc.Find("li.msg .irc-origin").Length(), len(want))
		}
		note := doc.Find(".room-header .irc-note").Text()
		for _, s := range []string{"IRC", "#opendev", "OFTC", "2021-08-18.log", "hexchat-opendev.log", "weechat-opendev.weechatlog"} {
			if !strings.Contains(note, s) {
				t.Errorf("header note %q does not name %s", note, s)
			}
		}

		// Joins, parts, quits, kicks and nick changes fold into the
		// membership lines, named by their nicks.
		var members []string
		e.page(t, "/room/"+slug+"/2021-08-17", http.StatusOK).Find("li.members li.state").Each(func(_ int, s *goquery.Selection) {
			members = append(members, strings.TrimSpace(s.Text()))
		})
		wantMembers := []string{"19:00 fungi joined.", "19:00 clarkb is now known as clarkb_.", "19:00 fungi removed spammer. Reason: spam",
			"19:00 corvus left. Reason: Quit: limnoria quitting", "20:00 clarkb joined."}
		if strings.Join(members, "\n") != strings.Join(wantMembers, "\n") {
			t.Errorf("membership lines:\n%s\nwant:\n%s", strings.Join(members, "\n"), strings.Join(wantMembers, "\n"))
		}

		rec := e.get(t, "/room/"+slug+"/2021-08-17.txt")
		text := rec.Body.String()
		if !strings.Contains(text, "\n# Lines from IRC: #opendev on OFTC, logs opendev.2021-08-17.log, irssi-opendev.log\n") {
			t.Errorf("text log does not say its lines come from IRC:\n%s", text)
		}
		last := -1
		for _, line := range []string{"<fungi> limnoria first line", "<fungi> limnoria second line", "* corvus waves",
			"-openstackgerrit- limnoria notice", "<clarkb> irssi first", "<fungi> irssi second", "* clarkb irssi action"} {
			i := strings.Index(text, line)
			if i <= last {
				t.Errorf("text log: %q missing or out of order:\n%s", line, text)
			}
			last = i
		}

		// No homeserver knows the room or the lines an IRC import made:
		// they get no matrix.to links, which would lead nowhere.
		day := e.page(t, "/room/"+slug+"/2021-08-18", http.StatusOK)
		if n := day.Find("a.matrixto, a[href^='https://matrix.to']").Length(); n != 0 {
			t.Errorf("the IRC room's day page has %d matrix.to links", n)
		}
		var api struct {
			Events []struct {
				EventID  string `json:"event_id"`
				MatrixTo string `json:"matrix_to"`
			} `json:"events"`
		}
		if err := json.Unmarshal(e.get(t, "/api/v1/rooms/"+string(room)+"/events?date=2021-08-18").Body.Bytes(), &api); err != nil || len(api.Events) == 0 {
			t.Fatalf("API day: %v, %d events", err, len(api.Events))
		}
		for _, ev := range api.Events {
			if ev.MatrixTo != "" {
				t.Errorf("API: %s has matrix_to %q", ev.EventID, ev.MatrixTo)
			}
		}
		var rooms struct {
			Rooms []struct {
				RoomID   string `json:"room_id"`
				MatrixTo string `json:"matrix_to"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(e.get(t, "/api/v1/rooms").Body.Bytes(), &rooms); err != nil || len(rooms.Rooms) == 0 {
			t.Fatalf("API rooms: %v", err)
		}
		for _, r := range rooms.Rooms {
			if r.RoomID == string(room) && r.MatrixTo != "" {
				t.Errorf("API rooms: the IRC room has matrix_to %q", r.MatrixTo)
			}
		}
		if feed := e.get(t, "/room/"+slug+"/feed.atom"); feed.Code != http.StatusOK || !strings.Contains(feed.Body.String(), "<entry>") || strings.Contains(feed.Body.String(), "matrix.to") {
			t.Errorf("the IRC room's feed (%d) names its senders by matrix.to links, or has no entry:\n%.600s", feed.Code, feed.Body.String())
		}
		if n := e.page(t, "/", http.StatusOK).Find("a[href^='https://matrix.to']").Length(); n != 0 {
			t.Errorf("the directory links the IRC room in Matrix (%d links)", n)
		}

		doc = e.page(t, "/search?q=hexchat", http.StatusOK)
		if n := doc.Find("li.result").Length(); n != 3 {
			t.Errorf("search hexchat: %d results, want 3", n)
		}
		if n := doc.Find("a.matrixto").Length(); n != 0 {
			t.Errorf("search: %d matrix.to links to IRC lines", n)
		}
		doc = e.page(t, "/search?q=limnoria&in="+alias, http.StatusOK)
		if n := doc.Find("li.result").Length(); n != 3 {
			t.Errorf("search limnoria in the room: %d results, want 3", n)
		}
	})
}

// A channel's IRC room linked to its Matrix successor shows like a room
// upgrade, both ways: the IRC room says where it continues, the Matrix
// room where its earlier history is. A Matrix room's own tombstone cannot
// claim another room as its successor this way.
func TestIRCSuccessorLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		alias := "#opendev:irc.example"
		room, _ := irclog.RoomID(alias)
		opts := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{
			Network: "OFTC", Channel: "#opendev", Server: "irc.example", Room: room}}
		e := newEnv(t, st, demoFile)
		in := ingest.New(st, storetest.Logger(t), "")
		if _, err := in.ImportFile(ctx, "../testdata/irc/opendev.2021-08-17.log", ingest.ImportOptions{IRC: opts, RouteUnclaimedAliases: true}); err != nil {
			t.Fatal(err)
		}
		// A recorded Matrix room's tombstone naming the demo room as its
		// successor does not make the demo room link back to it.
		hostile := filepath.Join(t.TempDir(), "hostile.ndjson")
		os.WriteFile(hostile, []byte(`{"event_id":"$hc","room_id":"!evil:example.org","sender":"@m:example.org","type":"m.room.create","state_key":"","origin_server_ts":1,"content":{"room_version":"10"}}
{"event_id":"$ht","room_id":"!evil:example.org","sender":"@m:example.org","type":"m.room.tombstone","state_key":"","origin_server_ts":2,"content":{"body":"x","replacement_room":"`+demoRoom+`"}}
`), 0o600)
		if _, err := in.ImportFile(ctx, hostile, ingest.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK).Find(".room-header .upgrade").Length(); n != 0 {
			t.Errorf("a Matrix room's tombstone made the demo room link back to it")
		}
		if err := in.LinkSuccessor(ctx, opts.Options, demoRoom); err != nil {
			t.Fatal(err)
		}
		if err := in.LinkSuccessor(ctx, opts.Options, demoRoom); err != nil { // twice changes nothing
			t.Fatal(err)
		}
		doc := e.page(t, "/room/opendev:irc.example/2021-08-17", http.StatusOK)
		if href := doc.Find(".room-header .upgrade a").AttrOr("href", ""); href != "/room/"+demoSlug {
			t.Errorf("IRC room links on to %q, want /room/%s", href, demoSlug)
		}
		doc = e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK)
		if href := doc.Find(".room-header .upgrade a").AttrOr("href", ""); href != "/room/opendev:irc.example" {
			t.Errorf("Matrix room links back to %q, want /room/opendev:irc.example", href)
		}
	})
}

// A hostile log line is text: markup in a message, quotes in a nick and
// in the log file's name reach the page escaped.
func TestIRCHostileLine(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	alias := "#evil:irc.example"
	room, _ := irclog.RoomID(alias)
	opts := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{
		Network: "OFTC", Channel: "#evil", Server: "irc.example", Room: room}}
	path := filepath.Join(t.TempDir(), "2021-09-01 \"><b>x\n# forged.log")
	os.WriteFile(path, []byte("[10:00:00] <ev\"il'> <script>alert(1)</script><img src=x onerror=alert(1)> javascript:alert(1)\n"), 0o600)
	in := ingest.New(st, storetest.Logger(t), "")
	if _, err := in.ImportFile(context.Background(), path, ingest.ImportOptions{IRC: opts, RouteUnclaimedAliases: true}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st)
	doc := e.page(t, "/room/evil:irc.example/2021-09-01", http.StatusOK)
	msg := doc.Find("li.msg")
	if msg.Find("script, img, b").Length() > 0 || doc.Find(".irc-note b").Length() > 0 {
		t.Errorf("markup from the log became elements: %s", msg.Find(".body").Text())
	}
	if got := msg.Find(".body").Text(); !strings.Contains(got, "<script>alert(1)</script><img src=x onerror=alert(1)>") {
		t.Errorf("body %q", got)
	}
	if got := strings.TrimSpace(msg.Find(".sender").Text()); got != `ev"il'` {
		t.Errorf("sender %q", got)
	}
	if href := msg.Find(".body a").AttrOr("href", ""); strings.HasPrefix(href, "javascript:") {
		t.Errorf("a javascript: link: %q", href)
	}
	// A newline in the file's name does not start a line of the text log.
	if text := e.get(t, "/room/evil:irc.example/2021-09-01.txt").Body.String(); strings.Contains(text, "\n# forged") || !strings.Contains(text, "# forged.log") {
		t.Errorf("text log:\n%s", text)
	}
}
