package web_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Names are claims: a display name is whatever its member chose, another
// member's name or user ID included, and as long as a homeserver lets
// through. These tests hold the archive to showing who it was, and to a
// bounded cost.

// claimState is a state event of key "" in room !x:example.org.
func claimState(evID, typ, sender string, ts int64, content string) string {
	return `{"event_id":"` + evID + `","room_id":"!x:example.org","type":"` + typ + `","sender":"` + sender + `","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
}

// claimMember is a member event of user's, sent by sender, in !x:example.org.
func claimMember(evID, sender, user string, ts int64, content string) string {
	return `{"event_id":"` + evID + `","room_id":"!x:example.org","type":"m.room.member","sender":"` + sender + `","state_key":"` + user + `","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
}

// claimSaid is a text message of sender's in !x:example.org.
func claimSaid(evID, sender string, ts int64, body string) string {
	return `{"event_id":"` + evID + `","room_id":"!x:example.org","type":"m.room.message","sender":"` + sender + `","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"` + body + `"}}`
}

// stateLine is the text of the state line of evID, spaces folded.
func stateLine(doc *goquery.Document, evID string) (string, bool) {
	li := doc.Find("li.state").FilterFunction(func(_ int, s *goquery.Selection) bool { v, _ := s.Attr("id"); return v == evID })
	return strings.Join(strings.Fields(li.Text()), " "), li.Length() > 0
}

// TestQuoteAttributionNameShapedLikeAnotherUsersID: @mallory:evil.org
// joined with the display name "@a:example.org", another member's user
// ID, and said "I resign as project lead". A wiki editor copying the
// permalink's citation read |author=@a:example.org (MediaWiki) and
// "— @a:example.org" (Markdown), and a feed reader the entry
// "@a:example.org in …": the quote was @a's, nowhere @mallory's. Such a
// name is followed by the sender's ID, as in the text log; a plain name
// is cited as it was.
func TestQuoteAttributionNameShapedLikeAnotherUsersID(t *testing.T) {
	const jan1 = 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			claimMember("$jm", "@mallory:evil.org", "@mallory:evil.org", jan1+10, `{"membership":"join","displayname":"@a:example.org"}`),
			claimSaid("$lie", "@mallory:evil.org", jan1+1000, "I resign as project lead"),
			msgLine("$real", jan1+2000, `{"msgtype":"m.text","body":"I do not"}`)))
		doc := e.page(t, "/room/!x:example.org/event/$lie", http.StatusOK)
		for _, sel := range []string{"#cite-wiki", "#cite-markdown", "#cite-plain"} {
			cite := strings.ReplaceAll(doc.Find(sel).Text(), `\`, "") // Markdown's escapes
			if !strings.Contains(cite, "@a:example.org (@mallory:evil.org)") {
				t.Errorf("the %s citation does not name @mallory:evil.org beside the name %q:\n%s", sel, "@a:example.org", cite)
			}
			if strings.Contains(cite, "(@mallory:evil.org) (@mallory:evil.org)") {
				t.Errorf("the %s citation follows the name with @mallory:evil.org twice:\n%s", sel, cite)
			}
		}
		if title := doc.Find("title").Text(); !strings.Contains(title, "mallory") {
			t.Errorf("the permalink's title attributes the quote to another user: %q", title)
		}
		feed := e.get(t, "/room/!x:example.org/feed.atom").Body.String()
		if i := strings.Index(feed, "<title>@a:example.org in"); i >= 0 {
			t.Errorf("the feed's entry title names the speaker as another user's ID: %.80s", feed[i:])
		}
		if !strings.Contains(feed, "<title>@a:example.org (@mallory:evil.org) in") {
			t.Errorf("no feed entry title names @mallory:evil.org beside the name:\n%s", feed)
		}
		// Ann, whose name is no user ID, is cited by her name alone.
		real := e.page(t, "/room/!x:example.org/event/$real", http.StatusOK)
		if wiki := real.Find("#cite-wiki").Text(); !strings.Contains(wiki, "|author=Ann |") {
			t.Errorf("Ann's citation: %s", wiki)
		}
		if !strings.Contains(feed, "<title>Ann in") {
			t.Errorf("Ann's feed entry title is not her name alone:\n%s", feed)
		}
	})
}

// TestStateLinesNameTheMembersID: @mallory:evil.org joined as "Ann", the
// name of the room's admin @a:example.org, and left. A reader of the day
// page saw "Ann joined." and "Ann left.", no user ID anywhere in either
// line (a message shows its sender's), and took them for the admin's.
// Each person a state line names is followed by their user ID (MATRIX.md
// §9.2's "Name (@id)").
func TestStateLinesNameTheMembersID(t *testing.T) {
	const jan1 = 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			claimMember("$jm", "@mallory:evil.org", "@mallory:evil.org", jan1+1000, `{"membership":"join","displayname":"Ann"}`),
			claimMember("$lm", "@mallory:evil.org", "@mallory:evil.org", jan1+2000, `{"membership":"leave"}`),
			claimMember("$ban", "@a:example.org", "@mallory:evil.org", jan1+2500, `{"membership":"ban","reason":"impersonation"}`),
			claimMember("$jc", "@c:evil.org", "@c:evil.org", jan1+2550, `{"membership":"join","displayname":"Ann"}`),
			claimMember("$banc", "@a:example.org", "@c:evil.org", jan1+2560, `{"membership":"ban"}`),
			claimMember("$jn", "@n:example.org", "@n:example.org", jan1+2600, `{"membership":"join"}`),
			claimState("$topic", "m.room.topic", "@a:example.org", jan1+2700, `{"topic":"welcome"}`),
			msgLine("$m", jan1+3000, `{"msgtype":"m.text","body":"hi"}`)))
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		for id, want := range map[string]string{
			"$j":     "Ann (@a:example.org) joined.",
			"$jm":    "Ann (@mallory:evil.org) joined.",
			"$lm":    "Ann (@mallory:evil.org) left.",
			"$ban":   "Ann (@a:example.org) banned @mallory:evil.org. Reason: impersonation", // had left: no name
			"$banc":  "Ann (@a:example.org) banned Ann (@c:evil.org).",
			"$jn":    "@n:example.org joined.", // no name: the ID is not written twice
			"$topic": "Ann (@a:example.org) changed the topic to “welcome”.",
		} {
			text, ok := stateLine(doc, id)
			if !ok {
				t.Errorf("no state line for %s", id)
				continue
			}
			if !strings.HasSuffix(text, want) {
				t.Errorf("the state line of %s reads %q, want …%q", id, text, want)
			}
		}
	})
}

// TestRedactedStateLineSaysDeleted: @a named the room and changed their
// display name; a moderator redacted both. The day page then read "Ann
// removed the room name." and "Ann removed their display name
// (@a:example.org).", acts @a never did, and said nothing of the
// deletion (a deleted message shows a placeholder). A redacted state
// event's line says it was deleted; what redaction keeps (a member
// event's membership: a join redacted is still a join) is still said.
func TestRedactedStateLineSaysDeleted(t *testing.T) {
	const jan1 = 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			claimState("$pl", "m.room.power_levels", "@a:example.org", jan1+10, `{"users":{"@a:example.org":100,"@mod:example.org":50}}`),
			claimState("$n", "m.room.name", "@a:example.org", jan1+1000, `{"name":"Project"}`),
			claimState("$tp", "m.room.topic", "@a:example.org", jan1+1100, `{"topic":"plans"}`),
			claimMember("$dn", "@a:example.org", "@a:example.org", jan1+1500, `{"membership":"join","displayname":"Ann B."}`),
			claimMember("$jb", "@b:example.org", "@b:example.org", jan1+1600, `{"membership":"join","displayname":"Bob"}`),
			msgLine("$m", jan1+2000, `{"msgtype":"m.text","body":"hi"}`),
			redactionLine("$r1", "@mod:example.org", jan1+3000, "$n", ""),
			redactionLine("$r2", "@mod:example.org", jan1+3001, "$dn", ""),
			redactionLine("$r3", "@mod:example.org", jan1+3002, "$tp", ""),
			redactionLine("$r4", "@mod:example.org", jan1+3003, "$jb", ""),
		))
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		for id, want := range map[string]string{
			"$n":  "A change of the room name by Ann (@a:example.org) was deleted.",
			"$tp": "A change of the topic by Ann (@a:example.org) was deleted.",
			"$dn": "Ann (@a:example.org) updated their profile. This event was later deleted.",
			"$jb": "@b:example.org joined. This event was later deleted.",
		} {
			text, ok := stateLine(doc, id)
			if !ok {
				t.Errorf("no state line for %s", id)
				continue
			}
			if !strings.HasSuffix(text, want) || strings.Contains(text, "removed") {
				t.Errorf("the line of %s, redacted by @mod:example.org, reads %q, want …%q", id, text, want)
			}
		}
	})
}

// TestLongDisplayNameIsCapped: a member set a display name of 60,000
// letters (one member event, within a homeserver's 64 KiB) and sent 500
// one-letter messages. A day's reads are bounded by their events' JSON,
// which the name is not part of: every message repeated it, and the day
// page and the text log were 30 MB each. A name is shown cut to 256
// runes, at a rune boundary, with an ellipsis.
func TestLongDisplayNameIsCapped(t *testing.T) {
	const jan1 = 1767225600000
	name := strings.Repeat("é", 60000/2)
	lines := []string{claimMember("$jm", "@mallory:evil.org", "@mallory:evil.org", jan1+100, `{"membership":"join","displayname":"`+name+`"}`)}
	for i := range 500 {
		lines = append(lines, claimSaid("$s"+itoa(int64(i)), "@mallory:evil.org", jan1+1000+int64(i), "x"))
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
	shown := strings.Repeat("é", 256) + "…"
	for _, path := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt", "/room/!x:example.org/feed.atom"} {
		rec := e.get(t, path)
		body := rec.Body.String()
		if rec.Code != http.StatusOK {
			t.Errorf("%s = %d", path, rec.Code)
			continue
		}
		if n := len(body); n > 2<<20 {
			t.Errorf("%s is %d bytes for 500 one-letter messages and one 60 kB member event", path, n)
		}
		if !utf8.ValidString(body) {
			t.Errorf("%s is not valid UTF-8: a name was cut inside a rune", path)
		}
		if !strings.Contains(body, shown) || strings.Contains(body, strings.Repeat("é", 257)) {
			t.Errorf("%s does not show the name cut to 256 runes and an ellipsis", path)
		}
	}
}

// TestTombstoneLineLinksOnlyAttestedUpgrade: a tombstone in !x named
// !evil:evil.org, a room the archive shows whose create event names no
// predecessor. The tombstone's line on the day page linked "Continue in
// the new room" to it as a fact. It links the new room only where its
// create event names this room as its predecessor.
func TestTombstoneLineLinksOnlyAttestedUpgrade(t *testing.T) {
	const jan1 = 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m", jan1+1000, `{"msgtype":"m.text","body":"real"}`),
			claimState("$t", "m.room.tombstone", "@a:example.org", jan1+2000, `{"body":"moved","replacement_room":"!evil:evil.org"}`),
			claimState("$t2", "m.room.tombstone", "@a:example.org", jan1+2001, `{"body":"moved","replacement_room":"!y:example.org"}`)))
		state := func(evID, typ, room, sender string, ts int64, content string) string {
			return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"` + sender + `","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
		}
		e.addAtOnce(t,
			state("$c9", "m.room.create", "!evil:evil.org", "@mallory:evil.org", jan1+3000, `{"room_version":"10"}`),
			state("$hv9", "m.room.history_visibility", "!evil:evil.org", "@mallory:evil.org", jan1+3001, `{"history_visibility":"world_readable"}`),
			`{"event_id":"$e9","room_id":"!evil:evil.org","type":"m.room.message","sender":"@mallory:evil.org","origin_server_ts":`+itoa(jan1+4000)+`,"content":{"msgtype":"m.text","body":"hello"}}`,
		)
		e.addAtOnce(t,
			state("$cy", "m.room.create", "!y:example.org", "@a:example.org", jan1+3000, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t2"}}`),
			state("$hvy", "m.room.history_visibility", "!y:example.org", "@a:example.org", jan1+3001, `{"history_visibility":"world_readable"}`),
			`{"event_id":"$ey","room_id":"!y:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":`+itoa(jan1+4000)+`,"content":{"msgtype":"m.text","body":"hello"}}`,
		)
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		msgByID(doc, "$t").Find("a").Each(func(_ int, a *goquery.Selection) {
			if href, _ := a.Attr("href"); strings.Contains(href, "evil") {
				t.Errorf("the tombstone's line links to %s: %q", href, strings.TrimSpace(a.Text()))
			}
		})
		linked := false
		msgByID(doc, "$t2").Find("a").Each(func(_ int, a *goquery.Selection) {
			if href, _ := a.Attr("href"); strings.Contains(href, "y:example.org") {
				linked = true
			}
		})
		if !linked {
			html, _ := msgByID(doc, "$t2").Html()
			t.Errorf("the line of the tombstone whose new room names this room back does not link it: %s", html)
		}
	})
}
