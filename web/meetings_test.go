package web_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

func meetingMsg(evID string, offset int64, sender, body string) string {
	return zLine(evID, "m.room.message", offset, sender, nil, `{"msgtype":"m.text","body":"`+body+`"}`)
}

// meetingRoom is a meeting chaired by Ann (@a) where Zorblax (@z) takes
// part; Zorblax's own #endmeeting is ignored (not a chair).
func meetingRoom(t *testing.T) string {
	return writeRoom(t,
		zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
		meetingMsg("$before", 60000, aUser, "hello all"),
		meetingMsg("$m0", 120000, aUser, "#startmeeting Release sync"),
		meetingMsg("$m1", 180000, aUser, "#topic Release <b>plan</b>"),
		meetingMsg("$m2", 240000, zUser, "#info rc1 is tagged https://example.org/rc1"),
		meetingMsg("$m3", 300000, zUser, "#action Zorblax writes the notes zsecretaction"),
		meetingMsg("$m4", 360000, aUser, "#action Ann reviews them"),
		meetingMsg("$m5", 420000, zUser, "#endmeeting"),
		meetingMsg("$m6", 480000, aUser, "#EndMeeting"),
		meetingMsg("$after", 540000, zUser, "#info after the meeting"),
	)
}

type apiMeetingJSON struct {
	ID       string   `json:"meeting_id"`
	Title    string   `json:"title"`
	Ended    bool     `json:"ended"`
	Chairs   []string `json:"chairs"`
	Topics   int      `json:"topics"`
	Actions  int      `json:"actions"`
	Lines    int      `json:"lines"`
	URL      string   `json:"url"`
	Sections []struct {
		Topic *struct {
			Text      string `json:"text"`
			Permalink string `json:"permalink"`
		} `json:"topic"`
		Items []struct {
			Kind      string `json:"kind"`
			Text      string `json:"text"`
			Permalink string `json:"permalink"`
		} `json:"items"`
	} `json:"sections"`
	ByPerson []struct {
		Sender  string `json:"sender"`
		Actions []struct {
			Text string `json:"text"`
		} `json:"actions"`
	} `json:"action_items_by_person"`
	People []struct {
		Name  string `json:"name"`
		Lines int    `json:"lines"`
	} `json:"people"`
}

func TestMeetingPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, meetingRoom(t))

		list := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
		rows := list.Find("table.meetings tbody tr")
		if rows.Length() != 1 {
			t.Fatalf("%d meetings listed, want 1", rows.Length())
		}
		cells := rows.First().Find("td").Map(func(_ int, s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") })
		if got := strings.Join(cells, " | "); got != "2026-01-01 00:02 | Release sync text | Ann | 6 min | 1 | 2" {
			t.Errorf("list row = %q", got)
		}
		if chairs := rows.First().Find("td bdi").Map(func(_ int, s *goquery.Selection) string { return s.Text() }); len(chairs) != 1 || chairs[0] != "Ann" {
			t.Errorf("the chairs are not each isolated: %q", chairs)
		}
		if href, _ := rows.Find("a").First().Attr("href"); href != "/room/!x:example.org/meeting/$m0" {
			t.Errorf("meeting link %q", href)
		}

		doc := e.page(t, "/room/!x:example.org/meeting/$m0", http.StatusOK)
		topic := doc.Find("ol.topics > li.topic").First()
		if got := topic.ChildrenFiltered("span.text").Text(); got != "Release <b>plan</b>" {
			t.Errorf("topic text %q (markup must stay text)", got)
		}
		var links []string
		doc.Find("section.minutes a.time").Each(func(_ int, s *goquery.Selection) {
			h, _ := s.Attr("href")
			links = append(links, h)
		})
		if got := strings.Join(links, " "); got != "/room/!x:example.org/event/$m1 /room/!x:example.org/event/$m2 /room/!x:example.org/event/$m3 /room/!x:example.org/event/$m4" {
			t.Errorf("item permalinks %s", got)
		}
		if doc.Find("section.minutes a[href='https://example.org/rc1']").Length() != 1 {
			t.Error("the URL in an #info is not a link")
		}
		byPerson := doc.Find("ul.by-person > li").Map(func(_ int, s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") })
		if len(byPerson) != 2 || !strings.HasPrefix(byPerson[0], "Ann") && !strings.HasPrefix(byPerson[1], "Ann") {
			t.Errorf("by person: %q", byPerson)
		}
		people := strings.Join(doc.Find("section.people li").Map(func(_ int, s *goquery.Selection) string { return s.Text() }), ", ")
		if people != "Ann (4), Zorblax (3)" {
			t.Errorf("people: %q", people)
		}
		if strings.Contains(doc.Text(), "after the meeting") {
			t.Error("a line after #endmeeting is in the minutes")
		}

		txt := e.get(t, "/room/!x:example.org/meeting/$m0.txt")
		if txt.Code != http.StatusOK || !strings.HasPrefix(txt.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("text minutes: %d %s", txt.Code, txt.Header().Get("Content-Type"))
		}
		for _, want := range []string{
			"!x:example.org: Release sync\n", "Meeting started by Ann at 2026-01-01 00:02:00 UTC.",
			// The full logs: the page of the meeting's hour, at its start
			// (a busy day's first page may not hold it).
			"The full logs are available at\nhttps://archive.example/room/!x:example.org/2026-01-01?hour=00#$m0 .\n",
			"* Release <b>plan</b>  (Ann, 00:03:00)\n  https://archive.example/room/!x:example.org/event/$m1\n",
			"  * ACTION: Zorblax writes the notes zsecretaction  (Zorblax, 00:05:00)\n",
			"Meeting ended at 2026-01-01 00:08:00 UTC.", "* Zorblax\n  * Zorblax writes the notes zsecretaction\n", "* Ann (4)\n* Zorblax (3)\n",
		} {
			if !strings.Contains(txt.Body.String(), want) {
				t.Errorf("text minutes lack %q:\n%s", want, txt.Body)
			}
		}

		var ms struct {
			Meetings []apiMeetingJSON `json:"meetings"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings"), http.StatusOK, &ms)
		if len(ms.Meetings) != 1 || ms.Meetings[0].ID != "$m0" || ms.Meetings[0].Actions != 2 || !ms.Meetings[0].Ended || ms.Meetings[0].Chairs[0] != aUser {
			t.Errorf("API list: %+v", ms.Meetings)
		}
		var m apiMeetingJSON
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings/$m0"), http.StatusOK, &m)
		if len(m.Sections) != 1 || m.Sections[0].Topic == nil || len(m.Sections[0].Items) != 3 || m.Lines != 7 ||
			m.Sections[0].Items[0].Permalink != "https://archive.example/room/!x:example.org/event/$m2" {
			t.Errorf("API minutes: %+v", m)
		}

		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if href, _ := msgByID(day, "$m0").Find("a.meeting-start").Attr("href"); href != "/room/!x:example.org/meeting/$m0" {
			t.Errorf("day page: the start message links %q", href)
		}
		if msgByID(day, "$m1").Find("a.meeting-start").Length() != 0 {
			t.Error("day page: a #topic is marked as a meeting start")
		}

		for path, code := range map[string]int{
			"/room/!x:example.org/meeting/$m1":                  http.StatusNotFound, // not a #startmeeting
			"/room/!x:example.org/meeting/$nope":                http.StatusNotFound,
			"/api/v1/rooms/!x:example.org/meetings/$m1":         http.StatusNotFound,
			"/room/!elsewhere:example.org/meeting/$m0":          http.StatusNotFound,
			"/api/v1/rooms/!elsewhere:example.org/meetings/$m0": http.StatusNotFound,
		} {
			if got := e.get(t, path).Code; got != code {
				t.Errorf("GET %s = %d, want %d", path, got, code)
			}
		}
	})
}

// A redacted #action vanishes from the minutes at once, in every form; an
// opted-out participant's lines and name leave them; a redacted
// #startmeeting takes the meeting away.
func TestMeetingMinutesFollowWithdrawals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, meetingRoom(t))
		routes := func() map[string]string {
			return map[string]string{
				"minutes": e.get(t, "/room/!x:example.org/meeting/$m0").Body.String(),
				"text":    e.get(t, "/room/!x:example.org/meeting/$m0.txt").Body.String(),
				"API":     e.get(t, "/api/v1/rooms/!x:example.org/meetings/$m0").Body.String(),
				"feed":    e.get(t, "/room/!x:example.org/meetings.atom").Body.String(),
			}
		}
		for route, body := range routes() {
			if !strings.Contains(body, "zsecretaction") {
				t.Fatalf("before the redaction the %s lack the action:\n%.2000s", route, body)
			}
		}
		e.addEvents(t, redactionLine("$r3", zUser, 1767225600000+600000, "$m3", "oops"))
		for route, body := range routes() {
			if strings.Contains(body, "zsecretaction") {
				t.Errorf("after the redaction the %s still show the action:\n%.2000s", route, body)
			}
		}
		var m apiMeetingJSON
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings/$m0"), http.StatusOK, &m)
		if len(m.ByPerson) != 1 || m.ByPerson[0].Sender != aUser {
			t.Errorf("actions by person after the redaction: %+v", m.ByPerson)
		}

		if _, err := st.OptOut(context.Background(), zUser, "dm"); err != nil {
			t.Fatal(err)
		}
		for route, body := range routes() {
			if strings.Contains(body, "rc1 is tagged") || strings.Contains(body, "Zorblax") {
				t.Errorf("after the opt-out the %s still show Zorblax's lines:\n%.2000s", route, body)
			}
		}

		e.addEvents(t, redactionLine("$r0", aUser, 1767225600000+700000, "$m0", ""))
		for _, path := range []string{"/room/!x:example.org/meeting/$m0", "/room/!x:example.org/meeting/$m0.txt", "/api/v1/rooms/!x:example.org/meetings/$m0"} {
			if got := e.get(t, path).Code; got != http.StatusNotFound {
				t.Errorf("GET %s after the start was redacted = %d, want 404", path, got)
			}
		}
		list := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
		if n := list.Find("table.meetings tbody tr").Length(); n != 0 {
			t.Errorf("%d meetings listed after the start was redacted", n)
		}
	})
}

// The demo's IRC log (what `make demo` imports) holds a meeting; its
// minutes follow meetbot's rules through the whole import path: a second
// chair, an #agreed refused from a non-chair, an #undo, actions by nick.
func TestDemoIRCMeeting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		alias := "#opendev-meeting:example.org"
		room, err := irclog.RoomID(alias)
		if err != nil {
			t.Fatal(err)
		}
		opts := &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{Network: "OFTC", Channel: "#opendev-meeting", Server: "example.org", Room: room}}
		in := ingest.New(st, storetest.Logger(t), "")
		if _, err := in.ImportFile(context.Background(), "../testdata/demo/irc/opendev-meeting.2026-03-03.log", ingest.ImportOptions{IRC: opts}); err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, st)
		var ms struct {
			Meetings []apiMeetingJSON `json:"meetings"`
		}
		decode(t, e.get(t, "/api/v1/rooms/"+string(room)+"/meetings"), http.StatusOK, &ms)
		if len(ms.Meetings) != 1 {
			t.Fatalf("%d meetings, want 1", len(ms.Meetings))
		}
		m := ms.Meetings[0]
		if m.Title != "infra" || !m.Ended || m.Topics != 3 || m.Actions != 3 || len(m.Chairs) != 2 {
			t.Errorf("demo meeting: %+v", m)
		}
		txt := e.get(t, "/room/"+string(room)+"/meeting/"+m.ID+".txt").Body.String()
		for _, want := range []string{"* tonio\n  * bo_k and tonio to rehearse the rollback on Friday\n", "* mira (12)\n", "* REJECTED: upgrading on Sunday"} {
			if !strings.Contains(txt, want) {
				t.Errorf("text minutes lack %q:\n%s", want, txt)
			}
		}
		for _, gone := range []string{"also on Friday", "update the wiki page", "AGREED: upgrading on Sunday"} {
			if strings.Contains(txt, gone) {
				t.Errorf("text minutes hold %q (refused or undone)", gone)
			}
		}
	})
}

// A #startmeeting said inside a running meeting is a line of it, not a
// second meeting in the list; a meeting nobody ended is listed as such.
func TestNestedStartIsALine(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			meetingMsg("$a0", 60000, aUser, "#startmeeting outer"),
			meetingMsg("$a1", 120000, zUser, "#startmeeting inner"),
			meetingMsg("$a2", 180000, aUser, "#endmeeting"),
			meetingMsg("$b0", 4*3600000, zUser, "#startmeeting never ended"),
			meetingMsg("$b1", 4*3600000+60000, zUser, "#info left open"),
		))
		var ms struct {
			Meetings []apiMeetingJSON `json:"meetings"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings"), http.StatusOK, &ms)
		var got []string
		for _, m := range ms.Meetings {
			got = append(got, m.ID+" "+m.Title+" "+map[bool]string{true: "ended", false: "open"}[m.Ended])
		}
		if strings.Join(got, ", ") != "$b0 never ended open, $a0 outer ended" {
			t.Errorf("meetings: %q", got)
		}
	})
}

// A room's meetings feed: one entry per meeting, its ID the minutes'
// permanent URL, its content the text minutes; linked from the meetings
// page; gone with its start message.
func TestMeetingsFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, meetingRoom(t))
		rec := e.get(t, "/room/!x:example.org/meetings.atom")
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/atom+xml") {
			t.Fatalf("feed: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		var feed struct {
			Entries []struct {
				ID      string `xml:"id"`
				Title   string `xml:"title"`
				Content string `xml:"content"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(rec.Body.Bytes(), &feed); err != nil {
			t.Fatalf("feed is not XML: %v\n%s", err, rec.Body)
		}
		if len(feed.Entries) != 1 || feed.Entries[0].ID != "https://archive.example/room/!x:example.org/meeting/$m0" ||
			!strings.Contains(feed.Entries[0].Content, "zsecretaction") {
			t.Fatalf("entries: %+v", feed.Entries)
		}
		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if href, _ := day.Find("a.meetings-link").Attr("href"); href != "/room/!x:example.org/meetings" {
			t.Errorf("the day page links the meetings at %q", href)
		}
		page := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
		if href, _ := page.Find(`link[rel=alternate][type="application/atom+xml"]`).Attr("href"); href != "/room/!x:example.org/meetings.atom" {
			t.Errorf("meetings page links the feed at %q", href)
		}
		e.addEvents(t, redactionLine("$r0", aUser, 1767225600000+700000, "$m0", ""))
		if body := e.get(t, "/room/!x:example.org/meetings.atom").Body.String(); strings.Contains(body, "<entry>") {
			t.Errorf("the feed keeps a meeting whose start was redacted:\n%s", body)
		}
	})
}

// editLine is sender's m.replace of target, sent at offset, whose new
// content is body.
func editLine(evID string, offset int64, sender, target, body string) string {
	return zLine(evID, "m.room.message", offset, sender, nil,
		`{"msgtype":"m.text","body":"* `+body+`","m.new_content":{"msgtype":"m.text","body":"`+body+`"},"m.relates_to":{"rel_type":"m.replace","event_id":"`+target+`"}}`)
}

// Minutes are derived from the lines as shown, after their latest valid
// edit, as meetbot users expect of a chat where lines can be corrected: a
// line edited into #startmeeting starts a meeting at the line's own time
// (listed, in the API and the feed), an edit that removes an #action
// removes the action, one that adds it adds it, and an edited #info reads
// as edited. Edits are not lines of their own, and a member's forged edit
// of someone else's line starts nothing.
func TestMeetingFollowsEdits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			meetingMsg("$f", 20000, aUser, "just chatting"),
			editLine("$fx", 25000, zUser, "$f", "#startmeeting zforged"),
			meetingMsg("$e0", 60000, aUser, "good morning"),
			meetingMsg("$e1", 120000, aUser, "#topic Plans"),
			meetingMsg("$e2", 180000, zUser, "#action Zorblax does zremovedaction"),
			meetingMsg("$e3", 240000, zUser, "#info zoldinfo"),
			editLine("$e3x", 250000, zUser, "$e3", "#info znewinfo"),
			meetingMsg("$e4", 300000, zUser, "we should ship"),
			meetingMsg("$e5", 360000, aUser, "#endmeeting"),
			meetingMsg("$g", 1000000, aUser, "#startmeeting zdropped"),
			editLine("$e0x", 2000000, aUser, "$e0", "#startmeeting Edited sync"),
			editLine("$e2x", 2100000, zUser, "$e2", "Zorblax does it later, no action"),
			editLine("$e4x", 2200000, zUser, "$e4", "#action Zorblax ships zaddedaction"),
			editLine("$gx", 2300000, aUser, "$g", "never mind"),
		))

		list := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
		rows := list.Find("table.meetings tbody tr")
		if rows.Length() != 1 {
			t.Fatalf("%d meetings listed, want 1 (the line edited into #startmeeting)", rows.Length())
		}
		cells := rows.First().Find("td").Map(func(_ int, s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") })
		if got := strings.Join(cells, " | "); got != "2026-01-01 00:01 | Edited sync text | Ann | 5 min | 1 | 1" {
			t.Errorf("list row = %q", got)
		}
		if href, _ := rows.Find("a").First().Attr("href"); href != "/room/!x:example.org/meeting/$e0" {
			t.Errorf("meeting link %q", href)
		}

		var ms struct {
			Meetings []apiMeetingJSON `json:"meetings"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings"), http.StatusOK, &ms)
		if len(ms.Meetings) != 1 || ms.Meetings[0].ID != "$e0" || ms.Meetings[0].Title != "Edited sync" || ms.Meetings[0].Actions != 1 {
			t.Errorf("API list: %+v", ms.Meetings)
		}
		if feed := e.get(t, "/room/!x:example.org/meetings.atom").Body.String(); !strings.Contains(feed, "zaddedaction") || strings.Contains(feed, "zremovedaction") {
			t.Errorf("the meetings feed does not follow the edits:\n%.3000s", feed)
		}

		minutes := map[string]string{
			"minutes": e.get(t, "/room/!x:example.org/meeting/$e0").Body.String(),
			"text":    e.get(t, "/room/!x:example.org/meeting/$e0.txt").Body.String(),
			"API":     e.get(t, "/api/v1/rooms/!x:example.org/meetings/$e0").Body.String(),
		}
		for route, body := range minutes {
			for _, want := range []string{"zaddedaction", "znewinfo", "Plans"} {
				if !strings.Contains(body, want) {
					t.Errorf("the %s lack %q:\n%.3000s", route, want, body)
				}
			}
			for _, gone := range []string{"zremovedaction", "zoldinfo", "zforged", "zdropped"} {
				if strings.Contains(body, gone) {
					t.Errorf("the %s show %q:\n%.3000s", route, gone, body)
				}
			}
		}
		txt := minutes["text"]
		for _, want := range []string{
			"!x:example.org: Edited sync\n", "Meeting started by Ann at 2026-01-01 00:01:00 UTC.",
			"  * ACTION: Zorblax ships zaddedaction  (Zorblax, 00:05:00)\n    https://archive.example/room/!x:example.org/event/$e4\n",
			"* Zorblax\n  * Zorblax ships zaddedaction\n", "* Ann (3)\n* Zorblax (3)\n",
		} {
			if !strings.Contains(txt, want) {
				t.Errorf("text minutes lack %q:\n%s", want, txt)
			}
		}
		var m apiMeetingJSON
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings/$e0"), http.StatusOK, &m)
		if m.Lines != 6 || len(m.ByPerson) != 1 || m.ByPerson[0].Sender != zUser || len(m.ByPerson[0].Actions) != 1 {
			t.Errorf("API minutes: %+v", m)
		}

		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if href, _ := msgByID(day, "$e0").Find("a.meeting-start").Attr("href"); href != "/room/!x:example.org/meeting/$e0" {
			t.Errorf("day page: the line edited into #startmeeting links %q", href)
		}
		for _, id := range []string{"$f", "$g"} {
			if msgByID(day, id).Find("a.meeting-start").Length() != 0 {
				t.Errorf("day page: %s is marked as a meeting start", id)
			}
			for _, path := range []string{"/room/!x:example.org/meeting/" + id, "/api/v1/rooms/!x:example.org/meetings/" + id} {
				if got := e.get(t, path).Code; got != http.StatusNotFound {
					t.Errorf("GET %s = %d, want 404", path, got)
				}
			}
		}
	})
}

// TestNestedStartHasNoMinutes: a #startmeeting said during a meeting is a
// line of it, on its own page as in the list: its minutes page is a 404,
// not minutes holding the earlier meeting's later lines.
func TestNestedStartHasNoMinutes(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		meetingMsg("$m0", 120000, aUser, "#startmeeting Real"),
		meetingMsg("$fake", 180000, zUser, "#startmeeting Fake nested meeting"),
		meetingMsg("$m2", 240000, aUser, "#action Ann writes it down"),
		meetingMsg("$m3", 300000, aUser, "#endmeeting"),
		// Zorblax's nested meeting never ended (the chair of the real one
		// ended that one): a later one is a day after.
		meetingMsg("$later", 2*86400000, zUser, "#startmeeting Later"),
		meetingMsg("$m5", 2*86400000+60000, zUser, "#endmeeting"),
	))
	list := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
	if n := list.Find("table.meetings tbody tr").Length(); n != 2 {
		t.Errorf("%d meetings listed, want Real and Later: %s", n, list.Find("table.meetings tbody").Text())
	}
	e.page(t, "/room/!x:example.org/meeting/$fake", http.StatusNotFound)
	e.page(t, "/room/!x:example.org/meeting/$m0", http.StatusOK)
	e.page(t, "/room/!x:example.org/meeting/$later", http.StatusOK)
}

// TestMeetingsListTheNewest: the list, its JSON and the meetings feed
// show a room's newest meetings however many messages mention the word,
// and a start said in an earlier meeting is a line of it however many
// came after. The store kept the oldest 1,000 candidates (any message
// that mentions "startmeeting"), and the list computed the newest 200 of
// them: a meeting channel of 1,001 meetings listed none of its newest,
// 1,001 mentions hid every later meeting, and 200 messages saying "lol
// startmeeting" after a meeting hid it.
func TestMeetingsListTheNewest(t *testing.T) {
	listed := func(t *testing.T, e *env) (api, feed []string) {
		t.Helper()
		var ms struct {
			Meetings []apiMeetingJSON `json:"meetings"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings"), http.StatusOK, &ms)
		for _, m := range ms.Meetings {
			api = append(api, m.ID)
		}
		var f struct {
			Entries []struct {
				ID string `xml:"id"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(e.get(t, "/room/!x:example.org/meetings.atom").Body.Bytes(), &f); err != nil {
			t.Fatalf("feed: %v", err)
		}
		for _, en := range f.Entries {
			feed = append(feed, en.ID[strings.LastIndex(en.ID, "/")+1:])
		}
		return api, feed
	}
	t.Run("mentions after a meeting", func(t *testing.T) {
		lines := []string{
			meetingMsg("$real0", 60000, aUser, "#startmeeting Release sync"),
			meetingMsg("$real1", 120000, aUser, "#endmeeting"),
		}
		for i := range 200 {
			lines = append(lines, meetingMsg(fmt.Sprintf("$spam%d", i), int64(3600000+i*1000), zUser, "lol startmeeting"))
		}
		e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
		if api, feed := listed(t, e); !slices.Equal(api, []string{"$real0"}) || !slices.Equal(feed, api) {
			t.Errorf("listed %q, in the feed %q; want [$real0]", api, feed)
		}
		if !strings.Contains(e.get(t, "/room/!x:example.org/meetings").Body.String(), "/meeting/$real0") {
			t.Error("the meetings page does not list $real0")
		}
	})
	t.Run("a meeting after 1,001 mentions", func(t *testing.T) {
		var lines []string
		for i := range store.MaxMeetings + 1 {
			lines = append(lines, meetingMsg(fmt.Sprintf("$old%d", i), int64(60000+i*1000), zUser, "who will say startmeeting today?"))
		}
		lines = append(lines, meetingMsg("$new0", 7200000, aUser, "#startmeeting The newest meeting"), meetingMsg("$new1", 7260000, aUser, "#endmeeting"))
		e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
		if api, feed := listed(t, e); !slices.Equal(api, []string{"$new0"}) || !slices.Equal(feed, api) {
			t.Errorf("listed %q, in the feed %q; want [$new0]", api, feed)
		}
		if n := e.page(t, "/room/!x:example.org/meetings", http.StatusOK).Find("p.capped").Length(); n != 0 {
			t.Error("the list of one meeting says older ones were left out")
		}
	})
	t.Run("1,001 mentions after a meeting", func(t *testing.T) {
		lines := []string{
			meetingMsg("$real0", 60000, aUser, "#startmeeting Release sync"),
			meetingMsg("$real1", 120000, aUser, "#endmeeting"),
		}
		for i := range store.MaxMeetings + 1 {
			lines = append(lines, meetingMsg(fmt.Sprintf("$spam%d", i), int64(3600000+i*1000), zUser, "lol startmeeting"))
		}
		e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
		if api, feed := listed(t, e); !slices.Equal(api, []string{"$real0"}) || !slices.Equal(feed, api) {
			t.Errorf("listed %q, in the feed %q; want [$real0]", api, feed)
		}
	})
	t.Run("1,001 meetings", func(t *testing.T) {
		var lines []string
		for i := range store.MaxMeetings + 1 {
			lines = append(lines,
				meetingMsg(fmt.Sprintf("$m%da", i), int64(10000+i*120000), aUser, fmt.Sprintf("#startmeeting weekly %d", i)),
				meetingMsg(fmt.Sprintf("$m%db", i), int64(10000+i*120000+60000), aUser, "#endmeeting"))
		}
		// A start said in the first meeting is a line of it, though a
		// thousand meetings came after.
		lines = append(lines, meetingMsg("$nested", 10000+30000, zUser, "#startmeeting nested"))
		e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
		api, feed := listed(t, e)
		if len(api) == 0 || api[0] != "$m1000a" || len(feed) == 0 || feed[0] != "$m1000a" {
			t.Errorf("%d listed, newest %q; in the feed %q; want $m1000a first", len(api), api[:min(len(api), 1)], feed[:min(len(feed), 1)])
		}
		e.page(t, "/room/!x:example.org/meeting/$nested", http.StatusNotFound)
		e.page(t, "/room/!x:example.org/meeting/$m0a", http.StatusOK)
	})
}

// A #startmeeting whose JSON spells a letter of it as an escape
// (#start\u006deeting) starts no meeting anywhere, as the store finds no
// such start (events_meeting reads the JSON as written): its day page
// marked it and its minutes were served while the meetings list, the
// API's and the feed left it out (helper-95). Edited into one, by an edit
// that spells it plainly, it is one everywhere.
func TestEscapedStartMeetingIsOneEverywhereOrNowhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			meetingMsg("$m0", 120000, aUser, `#start\u006deeting Escaped sync`),
			meetingMsg("$m1", 180000, aUser, "#action Ann writes zescapedaction"),
			meetingMsg("$m2", 240000, aUser, "#endmeeting"),
			meetingMsg("$n0", 3600000, aUser, `draft`),
			zLine("$n0e", "m.room.message", 3600001, aUser, nil, `{"msgtype":"m.text","body":"* #startmeeting Plain","m.new_content":{"msgtype":"m.text","body":"#startmeeting Plain"},"m.relates_to":{"rel_type":"m.replace","event_id":"$n0"}}`),
			meetingMsg("$n1", 3660000, aUser, "#action Ann writes zplainaction"),
			meetingMsg("$n2", 3720000, aUser, "#endmeeting"),
		))
		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		list := e.page(t, "/room/!x:example.org/meetings", http.StatusOK)
		api := e.get(t, "/api/v1/rooms/!x:example.org/meetings").Body.String()
		feed := e.get(t, "/room/!x:example.org/meetings.atom").Body.String()
		if msgByID(day, "$m0").Find("a.meeting-start").Length() != 0 {
			t.Error("the day page marks the escaped #startmeeting as a meeting's start")
		}
		if code := e.get(t, "/room/!x:example.org/meeting/$m0").Code; code != http.StatusNotFound {
			t.Errorf("the escaped #startmeeting's minutes answer %d; want 404", code)
		}
		if strings.Contains(api, "$m0") || strings.Contains(feed, "zescapedaction") {
			t.Error("the API's list or the feed has the escaped #startmeeting's meeting")
		}
		if msgByID(day, "$n0").Find("a.meeting-start").Length() != 1 || e.get(t, "/room/!x:example.org/meeting/$n0").Code != http.StatusOK ||
			list.Find("table.meetings tbody tr").Length() != 1 || !strings.Contains(api, "$n0") || !strings.Contains(feed, "zplainaction") {
			t.Errorf("the message edited into a plain #startmeeting is not a meeting everywhere (listed %d)", list.Find("table.meetings tbody tr").Length())
		}
	})
}

// TestMeetingsFeedEntryUpdatedByRevisions: an entry's <updated> was the
// meeting's end whatever happened to its lines since, so a feed reader
// keeping entries by ID and update kept minutes with an edited-out action
// or a deleted line in them (helper-98). An edit of a line moves it to the
// edit's time, a deletion to when the archive applied it; a line outside
// the meeting moves nothing.
func TestMeetingsFeedEntryUpdatedByRevisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, meetingRoom(t))
		updated := func() string {
			t.Helper()
			_, entry, _ := meetingsFeedTimes(t, e)
			return entry
		}
		if got := updated(); got != "2026-01-01T00:08:00Z" {
			t.Fatalf("updated %s; want the meeting's end, 2026-01-01T00:08:00Z", got)
		}
		e.addEvents(t, editLine("$ax", 1200000, aUser, "$after", "#info still after"))
		if got := updated(); got != "2026-01-01T00:08:00Z" {
			t.Errorf("after an edit of a line outside the meeting, updated %s; want 2026-01-01T00:08:00Z", got)
		}
		e.addEvents(t, editLine("$m3x", 2000000, zUser, "$m3", "#action Zorblax writes the notes later"))
		if got := updated(); got != "2026-01-01T00:33:20Z" {
			t.Errorf("after an edit of one of its lines at 00:33:20, updated %s; want 2026-01-01T00:33:20Z", got)
		}
		before := time.Now().UTC().Truncate(time.Second)
		e.addEvents(t, redactionLine("$r2", zUser, 1767225600000+2100000, "$m2", ""))
		got, err := time.Parse(time.RFC3339, updated())
		if err != nil || got.Before(before) {
			t.Errorf("after a deletion of one of its lines, updated %v (%v); want when the archive applied it, not before %v", got, err, before)
		}
	})
}

// meetingsFeedTimes fetches the meetings feed of a room of one meeting:
// the feed's <updated>, its entry's, and the entry's minutes.
func meetingsFeedTimes(t *testing.T, e *env) (feedUpdated, entryUpdated, content string) {
	t.Helper()
	var feed struct {
		Updated string `xml:"updated"`
		Entries []struct {
			Updated string `xml:"updated"`
			Content string `xml:"content"`
		} `xml:"entry"`
	}
	rec := e.get(t, "/room/!x:example.org/meetings.atom")
	if err := xml.Unmarshal(rec.Body.Bytes(), &feed); err != nil || len(feed.Entries) != 1 {
		t.Fatalf("feed: %v, %d entries\n%s", err, len(feed.Entries), rec.Body)
	}
	return feed.Updated, feed.Entries[0].Updated, feed.Entries[0].Content
}

// TestMeetingsFeedFutureEditCountsWhenItsTimeComes: an edit of a meeting
// line stamped years ahead (a member's claim, or a server's wrong clock)
// made the entry's and the feed's <updated> "now", capped, at every
// fetch: nothing had changed, yet readers saw the meeting updated at each
// poll and the feed's ETag never repeated. It counts from its time on.
func TestMeetingsFeedFutureEditCountsWhenItsTimeComes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, meetingRoom(t))
		const ahead = 10 * 365 * 86400000 // ten years after the room's 2026-01-01
		e.addEvents(t, editLine("$m3x", ahead, zUser, "$m3", "#action Zorblax writes the notes later"))
		now := time.Now()
		e.srv.SetNow(func() time.Time { return now })
		for range 2 {
			if f, u, _ := meetingsFeedTimes(t, e); f != "2026-01-01T00:08:00Z" || u != "2026-01-01T00:08:00Z" {
				t.Errorf("at %v, with an edit stamped ten years ahead: feed updated %s, entry %s; want the meeting's end, 2026-01-01T00:08:00Z, at every fetch", now, f, u)
			}
			now = now.Add(time.Hour)
		}
		at := time.UnixMilli(1767225600000 + ahead).UTC().Format(time.RFC3339)
		now = time.UnixMilli(1767225600000 + ahead + 1000)
		if f, u, _ := meetingsFeedTimes(t, e); f != at || u != at {
			t.Errorf("once the edit's time has passed: feed updated %s, entry %s; want the edit's, %s", f, u, at)
		}
	})
}

// TestMeetingsFeedUpdatedByWithdrawal: an opt-out of a participant, or
// the operator's takedown of a line, withdraws lines from the minutes,
// and the entry's <updated> moves to when it did. The opt-out's
// redaction (store.OptOutRedaction) has no time, so after an opt-out
// <updated> stayed at the meeting's end and feed readers kept the
// minutes with the withdrawn action in them. (An erasure deletes the
// lines once it has opted their sender out, leaving only tombstones,
// which a meeting's window does not read.)
func TestMeetingsFeedUpdatedByWithdrawal(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withdraw func(t *testing.T, st *store.Store)
		optedOut bool // <updated> is then exactly the opt-out's time
	}{
		{"opt-out", func(t *testing.T, st *store.Store) {
			if _, err := st.OptOut(context.Background(), zUser, store.OptOutByUser); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"takedown", func(t *testing.T, st *store.Store) {
			if err := st.Takedown(context.Background(), "$m3", "libel"); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				e := newEnv(t, st, meetingRoom(t))
				if _, u, c := meetingsFeedTimes(t, e); u != "2026-01-01T00:08:00Z" || !strings.Contains(c, "zsecretaction") {
					t.Fatalf("before: updated %s, content %q", u, c)
				}
				before := time.Now().UTC().Truncate(time.Second)
				tc.withdraw(t, st)
				f, u, c := meetingsFeedTimes(t, e)
				if strings.Contains(c, "zsecretaction") {
					t.Fatalf("the minutes still hold the withdrawn line: %q", c)
				}
				if got, err := time.Parse(time.RFC3339, u); err != nil || got.Before(before) || f != u {
					t.Errorf("after the %s withdrew a line of the minutes: entry updated %s, feed %s; want when the archive applied it (not before %v), in both", tc.name, u, f, before)
				}
				if tc.optedOut {
					at, err := st.OptedOutAt(context.Background(), zUser)
					if err != nil || at.IsZero() {
						t.Fatalf("OptedOutAt: %v, %v", at, err)
					}
					if want := at.Format(time.RFC3339); u != want {
						t.Errorf("after the %s, updated %s; want the opt-out's time, %s", tc.name, u, want)
					}
				}
			})
		})
	}
}
