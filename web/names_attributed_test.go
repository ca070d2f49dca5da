package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Names are claims (names_claims_test.go): these tests hold the lists of
// who reacted and the meeting minutes to saying who it was.

// TestReactionSendersAreNamedByID: @mallory joined as "Ann", the name of
// the room's @a:example.org, and a second account of hers as
// "@a:example.org"; both reacted 👎 to Ann's message. The day page's list
// of who reacted read "Ann, @a:example.org" and the JSON API's senders
// ["Ann", "@a:example.org"], neither naming @mallory: the room's Ann
// seemed to disown her own message. Each name is titled with its sender's
// user ID, as a message's sender is, and the API gives the IDs beside
// the names (sender_ids); the names read as before.
func TestReactionSendersAreNamedByID(t *testing.T) {
	const ts = 1767225601000
	member := func(evID, user, name string, ts int64) string {
		return claimMember(evID, user, user, ts, `{"membership":"join","displayname":"`+name+`"}`)
	}
	react := func(evID, user string, ts int64) string {
		return `{"event_id":"` + evID + `","room_id":"!x:example.org","type":"m.reaction","sender":"` + user + `","origin_server_ts":` + itoa(ts) + `,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m1","key":"👎"}}}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m1", ts, `{"msgtype":"m.text","body":"we ship on Friday"}`),
			member("$jm", "@mallory:evil.example", "Ann", ts+1),
			member("$js", "@sock:evil.example", "@a:example.org", ts+2),
			react("$r1", "@mallory:evil.example", ts+3),
			react("$r2", "@sock:evil.example", ts+4),
		))
		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		var got [][2]string
		msgByID(day, "$m1").Find("ul.reactions .who bdi").Each(func(_ int, s *goquery.Selection) {
			got = append(got, [2]string{s.Text(), s.AttrOr("title", "")})
		})
		want := [][2]string{{"Ann", "@mallory:evil.example"}, {"@a:example.org", "@sock:evil.example"}}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("who reacted 👎 (name, title): %q, want %q", got, want)
		}
		var api struct {
			Reactions []struct {
				Key       string   `json:"key"`
				Senders   []string `json:"senders"`
				SenderIDs []string `json:"sender_ids"`
			} `json:"reactions"`
		}
		decode(t, e.get(t, "/api/v1/events/$m1"), http.StatusOK, &api)
		if len(api.Reactions) != 1 {
			t.Fatalf("API reactions %+v, want one", api.Reactions)
		}
		r := api.Reactions[0]
		if strings.Join(r.Senders, ",") != "Ann,@a:example.org" || strings.Join(r.SenderIDs, ",") != "@mallory:evil.example,@sock:evil.example" {
			t.Errorf("API reaction %+v, want senders Ann, @a:example.org with sender_ids @mallory:evil.example, @sock:evil.example", r)
		}
	})
}

// TestMeetingMinutesNameTheSendersID: @mallory, named "@a:example.org"
// (the room's Ann's user ID), started a meeting, filed an #agreed item
// and ended it. The text minutes, read apart from the room's pages
// (pasted into mailing lists and wikis), said "Meeting started by
// @a:example.org", "AGREED: … (@a:example.org, …)" and "People present:
// @a:example.org", and the HTML minutes and the meetings feed's author
// the same, nowhere naming @mallory, though the day's text log did.
// Such a name is followed by the sender's ID (attributedName's rule); a
// name two senders went by, which the minutes already follow with each
// one's ID, not twice; a plain name, and a name #nick made an attendee
// that nobody went by, are written as they were.
func TestMeetingMinutesNameTheSendersID(t *testing.T) {
	const ts = 1767225601000
	const fake = "@a:example.org (@mallory:evil.example)"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			claimMember("$jm", "@mallory:evil.example", "@mallory:evil.example", ts-500, `{"membership":"join","displayname":"@a:example.org"}`),
			claimSaid("$m0", "@mallory:evil.example", ts, "#startmeeting budget"),
			claimSaid("$m1", "@mallory:evil.example", ts+1000, "#agreed the budget goes to evil.example"),
			msgLine("$m2", ts+1500, `{"msgtype":"m.text","body":"#info I object"}`),
			claimSaid("$m3", "@mallory:evil.example", ts+1800, "#nick @b:example.org"),
			claimSaid("$m4", "@mallory:evil.example", ts+2000, "#endmeeting"),
		))
		txt := e.get(t, "/room/!x:example.org/meeting/$m0.txt")
		if txt.Code != http.StatusOK {
			t.Fatalf("text minutes = %d", txt.Code)
		}
		body := txt.Body.String()
		for _, want := range []string{
			"Meeting started by " + fake + " at",
			"AGREED: the budget goes to evil.example  (" + fake + ", 00:00:02)",
			"* I object  (Ann, 00:00:02)",
			"* " + fake + " (4)",
			"* Ann (1)",
			"* @b:example.org (0)",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the text minutes do not say %q:\n%s", want, body)
			}
		}
		doc := e.page(t, "/room/!x:example.org/meeting/$m0", http.StatusOK)
		if h := doc.Find("header.room-header").Text(); !strings.Contains(h, "Chairs: "+fake+".") {
			t.Errorf("the minutes' chairs do not name @mallory:evil.example: %s", h)
		}
		if n := doc.Find("li.item.agreed .muted bdi").Text(); n != fake {
			t.Errorf("the #agreed item is attributed to %q, want %q", n, fake)
		}
		if ps := doc.Find("section.people li span").First().Text(); ps != fake {
			t.Errorf("the first person present is %q, want %q", ps, fake)
		}
		if feed := e.get(t, "/room/!x:example.org/meetings.atom").Body.String(); !strings.Contains(feed, "<name>"+fake+"</name>") {
			t.Errorf("the meetings feed's entry author is not %q:\n%s", fake, feed)
		}
	})
	// A second sender by the same name: the minutes follow it with each
	// one's ID (meeting's), once.
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			claimMember("$jm", "@mallory:evil.example", "@mallory:evil.example", ts-500, `{"membership":"join","displayname":"@a:example.org"}`),
			claimMember("$js", "@sock:evil.example", "@sock:evil.example", ts-400, `{"membership":"join","displayname":"@a:example.org"}`),
			claimSaid("$m0", "@mallory:evil.example", ts, "#startmeeting budget"),
			claimSaid("$m1", "@sock:evil.example", ts+1000, "#info seconded"),
			claimSaid("$m2", "@mallory:evil.example", ts+2000, "#endmeeting"),
		))
		body := e.get(t, "/room/!x:example.org/meeting/$m0.txt").Body.String()
		for _, want := range []string{"Meeting started by " + fake + " at", "(@a:example.org (@sock:evil.example), 00:00:02)"} {
			if !strings.Contains(body, want) {
				t.Errorf("the text minutes do not say %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "evil.example) (@") {
			t.Errorf("the text minutes follow a name with its sender's ID twice:\n%s", body)
		}
	})
}
