package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// Room state is a claim, not a proof: what a room's state says of other
// rooms (the predecessor its create event names, the successor its
// tombstone names) and of addresses (its canonical alias and
// alt_aliases) is shown as fact only when confirmed, and a room the
// archive does not show is never named.

// csState is a state event line of any room, sent by sender.
func csState(evID, typ, room, sender string, ts int64, content string) string {
	return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"` + sender + `","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
}

// csSaid is a text message line of any room.
func csSaid(evID, room, sender string, ts int64, body string) string {
	return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"m.room.message","sender":"` + sender + `","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"` + body + `"}}`
}

// csLive delivers events as a homeserver's transaction does.
func csLive(t *testing.T, st *store.Store, txn string, lines ...string) {
	t.Helper()
	in := ingest.New(st, storetest.Logger(t), "")
	var evs []*event.Event
	for _, l := range lines {
		ev, err := event.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if _, err := in.IngestTransaction(context.Background(), txn, evs); err != nil {
		t.Fatal(err)
	}
}

const csJan1 = 1767225600000

// csAround is the text of body around the first s in it.
func csAround(body, s string) string {
	i := strings.Index(body, s)
	return body[max(0, i-120):min(len(body), i+len(s)+40)]
}

// csHostileSuccessor is a public room of @mallory whose create event names
// pred as its predecessor; pred never named it.
func csHostileSuccessor(pred string) []string {
	return []string{
		csState("$c9", "m.room.create", "!evil:evil.org", "@mallory:evil.org", csJan1+86400000, `{"room_version":"10","predecessor":{"room_id":"`+pred+`"}}`),
		csState("$hv9", "m.room.history_visibility", "!evil:evil.org", "@mallory:evil.org", csJan1+86400001, `{"history_visibility":"world_readable"}`),
		csState("$n9", "m.room.name", "!evil:evil.org", "@mallory:evil.org", csJan1+86400002, `{"name":"Real project (new home)"}`),
		csSaid("$e9", "!evil:evil.org", "@mallory:evil.org", csJan1+86401000, "the project moved here, send your password"),
	}
}

// TestAboutNamesNoHiddenRoom: the archive holds the state of a room it no
// longer shows (its history stopped being world-readable, then its
// members renamed it "Acquisition of Foo Corp (board only)"). A reader of
// a hostile public room whose create event names that room as its
// predecessor saw, under "Earlier rooms", the hidden room's new name. A
// room the archive does not show is named by its ID alone, and only as
// the hostile room's unconfirmed claim.
func TestAboutNamesNoHiddenRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, msgLine("$m", csJan1+1000, `{"msgtype":"m.text","body":"hello"}`)))
		csLive(t, st, "t1", csState("$hvj", "m.room.history_visibility", "!x:example.org", "@a:example.org", csJan1+2000, `{"history_visibility":"joined"}`))
		csLive(t, st, "t2", csState("$n1", "m.room.name", "!x:example.org", "@a:example.org", csJan1+3000, `{"name":"Acquisition of Foo Corp (board only)"}`))
		if rec := e.get(t, "/room/!x:example.org/about"); rec.Code == http.StatusOK {
			t.Fatalf("the hidden room's about page answers %d", rec.Code)
		}
		e.addAtOnce(t, csHostileSuccessor("!x:example.org")...)
		rec := e.get(t, "/room/!evil:evil.org/about")
		if rec.Code != http.StatusOK {
			t.Fatalf("the hostile room's about page answers %d", rec.Code)
		}
		if body := rec.Body.String(); strings.Contains(body, "Acquisition") {
			t.Errorf("the hostile room's about page names the hidden room: %q", csAround(body, "Acquisition"))
		}
		doc := e.page(t, "/room/!evil:evil.org/about", http.StatusOK)
		if n := doc.Find("ol.upgrades.earlier").Length(); n != 0 {
			t.Errorf("the hostile room's about page lists earlier rooms: %q", doc.Find("ol.upgrades.earlier").Text())
		}
		claim := doc.Find("dd.upgrade-claim.earlier")
		if got := claim.Find("code.claimed-room").Text(); got != "!x:example.org" || claim.Find("a").Length() != 0 || !strings.Contains(claim.Text(), "cannot confirm") {
			t.Errorf("the hostile room's claim reads %q (room %q, %d links)", strings.TrimSpace(claim.Text()), got, claim.Find("a").Length())
		}
	})
}

// TestAboutNamesNoNeverPublicRoom: the same with a room that was never
// public (the bot records only its state until it is world-readable): a
// reader of the hostile room's about page saw "Earlier rooms: Security
// incident 2026-01 (embargoed) (not shown by this archive)".
func TestAboutNamesNoNeverPublicRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		csLive(t, st, "t1",
			csState("$c", "m.room.create", "!priv:example.org", "@a:example.org", csJan1, `{"room_version":"10"}`),
			csState("$hv", "m.room.history_visibility", "!priv:example.org", "@a:example.org", csJan1+1, `{"history_visibility":"joined"}`),
			csState("$n", "m.room.name", "!priv:example.org", "@a:example.org", csJan1+2, `{"name":"Security incident 2026-01 (embargoed)"}`),
			// Its tombstone names the hostile room: still not said.
			csState("$t", "m.room.tombstone", "!priv:example.org", "@a:example.org", csJan1+3, `{"body":"moved","replacement_room":"!evil:evil.org"}`))
		e.addAtOnce(t, csHostileSuccessor("!priv:example.org")...)
		rec := e.get(t, "/room/!evil:evil.org/about")
		if rec.Code != http.StatusOK {
			t.Fatalf("the hostile room's about page answers %d", rec.Code)
		}
		if body := rec.Body.String(); strings.Contains(body, "embargoed") {
			t.Errorf("the hostile room's about page names a room that was never public: %q", csAround(body, "embargoed"))
		}
	})
}

// TestOneSidedPredecessorNotShownAsUpgrade: a hostile room's create event
// names a real public room as its predecessor; the real room never sent a
// tombstone naming it. A reader of the hostile room's day page saw
// "Earlier history is in the previous room." linking the real room, and
// its about page listed "Real project" under "Earlier rooms"; the API
// gave the real room as its predecessor_room_id.
func TestOneSidedPredecessorNotShownAsUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			csState("$n", "m.room.name", "!x:example.org", "@a:example.org", csJan1+3, `{"name":"Real project"}`),
			msgLine("$m", csJan1+1000, `{"msgtype":"m.text","body":"real"}`)))
		e.addAtOnce(t, csHostileSuccessor("!x:example.org")...)
		doc := e.page(t, "/room/!evil:evil.org/2026-01-02", http.StatusOK)
		if up := doc.Find("p.upgrade"); up.Length() > 0 {
			href, _ := up.Find("a").Attr("href")
			t.Errorf("the hostile room's day page says %q (link %s), though !x:example.org never named it as its successor", strings.TrimSpace(up.Text()), href)
		}
		about := e.page(t, "/room/!evil:evil.org/about", http.StatusOK)
		if ear := about.Find("ol.upgrades.earlier"); ear.Length() > 0 {
			t.Errorf("the hostile room's about page lists earlier rooms: %q", strings.TrimSpace(ear.Text()))
		}
		claim := about.Find("dd.upgrade-claim.earlier")
		if claim.Find("a").Length() != 0 || strings.Contains(claim.Text(), "Real project") || !strings.Contains(claim.Text(), "only this room's claim") {
			t.Errorf("the hostile room's claim reads %q", strings.TrimSpace(claim.Text()))
		}
		if a := csAPIRoomOf(t, e, "!evil:evil.org"); a.Predecessor != "" || a.ClaimedPredecessor != "!x:example.org" {
			t.Errorf("the API gives the hostile room predecessor %q, claimed %q", a.Predecessor, a.ClaimedPredecessor)
		}
		// The real room's pages say nothing of the hostile room.
		if body := e.get(t, "/room/!x:example.org/about").Body.String(); strings.Contains(body, "evil") {
			t.Errorf("the real room's about page mentions the hostile room")
		}
	})
}

// TestOneSidedTombstoneNotShownAsUpgrade: a room's tombstone names a
// shown room whose create event names no predecessor. A reader of the
// old room's day page saw "This room was upgraded; it continues in the
// new room." linking !evil:evil.org, its tombstone line linked there
// ("Continue in the new room"), and its about page listed it under
// "Upgraded to".
func TestOneSidedTombstoneNotShownAsUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m", csJan1+1000, `{"msgtype":"m.text","body":"real"}`),
			csState("$t", "m.room.tombstone", "!x:example.org", "@a:example.org", csJan1+2000, `{"body":"moved","replacement_room":"!evil:evil.org"}`)))
		e.addAtOnce(t,
			csState("$c9", "m.room.create", "!evil:evil.org", "@mallory:evil.org", csJan1+3000, `{"room_version":"10"}`),
			csState("$hv9", "m.room.history_visibility", "!evil:evil.org", "@mallory:evil.org", csJan1+3001, `{"history_visibility":"world_readable"}`),
			csSaid("$e9", "!evil:evil.org", "@mallory:evil.org", csJan1+4000, "hello"),
		)
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if up := doc.Find("p.upgrade"); up.Length() > 0 {
			href, _ := up.Find("a").Attr("href")
			t.Errorf("the old room's header says %q (link %s), though !evil:evil.org's create event names no predecessor", strings.TrimSpace(up.Text()), href)
		}
		msgByID(doc, "$t").Find("a").Each(func(_ int, a *goquery.Selection) {
			if href, _ := a.Attr("href"); strings.Contains(href, "evil") {
				t.Errorf("the tombstone's line links to %s: %q", href, strings.TrimSpace(a.Text()))
			}
		})
		about := e.page(t, "/room/!x:example.org/about", http.StatusOK)
		if later := about.Find("ol.upgrades.later a"); later.Length() > 0 {
			t.Errorf("the about page says the room was upgraded to %q", strings.TrimSpace(later.Text()))
		}
		claim := about.Find("dd.upgrade-claim.later")
		if claim.Find("code.claimed-room").Text() != "!evil:evil.org" || claim.Find("a").Length() != 0 || !strings.Contains(claim.Text(), "only this room's claim") {
			t.Errorf("the old room's claim reads %q", strings.TrimSpace(claim.Text()))
		}
		if a := csAPIRoomOf(t, e, "!x:example.org"); a.Successor != "" || a.ClaimedSuccessor != "!evil:evil.org" {
			t.Errorf("the API gives the old room successor %q, claimed %q", a.Successor, a.ClaimedSuccessor)
		}
	})
}

// TestConfirmedUpgradeShownBothWays: an upgrade both rooms say (the old
// room's tombstone names the new room, whose create event names the old
// one) is shown as one: the headers, the tombstone's line, the about
// pages and the API link the rooms.
func TestConfirmedUpgradeShownBothWays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m", csJan1+1000, `{"msgtype":"m.text","body":"old"}`),
			csState("$t", "m.room.tombstone", "!x:example.org", "@a:example.org", csJan1+2000, `{"body":"moved","replacement_room":"!y:example.org"}`)))
		e.addAtOnce(t,
			csState("$c2", "m.room.create", "!y:example.org", "@a:example.org", csJan1+3000, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
			csState("$hv2", "m.room.history_visibility", "!y:example.org", "@a:example.org", csJan1+3001, `{"history_visibility":"world_readable"}`),
			csState("$n2", "m.room.name", "!y:example.org", "@a:example.org", csJan1+3002, `{"name":"New room"}`),
			csSaid("$b", "!y:example.org", "@a:example.org", csJan1+4000, "new"),
		)
		old := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if href := old.Find(".room-header .upgrade a").AttrOr("href", ""); href != "/room/!y:example.org" {
			t.Errorf("the old room's header links on to %q", href)
		}
		if href := msgByID(old, "$t").Find("a[href='/room/!y:example.org']"); href.Length() == 0 {
			t.Errorf("the tombstone's line does not link to the new room")
		}
		if href := e.page(t, "/room/!y:example.org/2026-01-01", http.StatusOK).Find(".room-header .upgrade a").AttrOr("href", ""); href != "/room/!x:example.org" {
			t.Errorf("the new room's header links back to %q", href)
		}
		if href := e.page(t, "/room/!x:example.org/about", http.StatusOK).Find("ol.upgrades.later a").AttrOr("href", ""); href != "/room/!y:example.org/about" {
			t.Errorf("the old room's about page links on to %q", href)
		}
		about := e.page(t, "/room/!y:example.org/about", http.StatusOK)
		if href := about.Find("ol.upgrades.earlier a").AttrOr("href", ""); href != "/room/!x:example.org/about" {
			t.Errorf("the new room's about page links back to %q", href)
		}
		if n := about.Find(".upgrade-claim").Length(); n != 0 {
			t.Errorf("a confirmed upgrade is shown as a claim: %q", about.Find(".upgrade-claim").Text())
		}
		if a := csAPIRoomOf(t, e, "!x:example.org"); a.Successor != "!y:example.org" {
			t.Errorf("the API gives the old room successor %q", a.Successor)
		}
		if a := csAPIRoomOf(t, e, "!y:example.org"); a.Predecessor != "!x:example.org" {
			t.Errorf("the API gives the new room predecessor %q", a.Predecessor)
		}
	})
}

// csAPIRoom is a room of /api/v1/rooms.
type csAPIRoom struct {
	RoomID             string   `json:"room_id"`
	Alias              string   `json:"canonical_alias"`
	AltAliases         []string `json:"alt_aliases"`
	Unverified         []string `json:"unverified_aliases"`
	Predecessor        string   `json:"predecessor_room_id"`
	Successor          string   `json:"successor_room_id"`
	ClaimedPredecessor string   `json:"claimed_predecessor_room_id"`
	ClaimedSuccessor   string   `json:"claimed_successor_room_id"`
}

// csAPIRoomOf is room as /api/v1/rooms lists it.
func csAPIRoomOf(t *testing.T, e *env, room string) csAPIRoom {
	t.Helper()
	var resp struct {
		Rooms []csAPIRoom `json:"rooms"`
	}
	rec := e.get(t, "/api/v1/rooms")
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.Rooms {
		if r.RoomID == room {
			return r
		}
	}
	t.Fatalf("/api/v1/rooms does not list %s", room)
	return csAPIRoom{}
}

// csSquatterRoom is a room !x whose m.room.canonical_alias content claims
// the demo room's address.
func csSquatterRoom(t *testing.T, content string, extra ...string) string {
	return writeRoom(t, append([]string{
		`{"event_id":"$squat","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":` + content + `}`,
		msgLine("$hijack", 1767225601000, `{"msgtype":"m.text","body":"hijacked"}`),
	}, extra...)...)
}

// TestAPIRoomAliasIsVerified: a squatter room's m.room.canonical_alias
// names the demo room's address. The HTML keeps the squatter at its room
// ID (TestAliasSquatting), but a script reading /api/v1/rooms was given
// the claim as the squatter's canonical_alias, an address that leads to
// the demo room. It is now among the squatter's unverified_aliases.
func TestAPIRoomAliasIsVerified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile, csSquatterRoom(t, `{"alias":"#`+demoSlug+`"}`))
		a := csAPIRoomOf(t, e, "!x:example.org")
		if a.Alias != "" || len(a.AltAliases) != 0 {
			t.Errorf("the API gives the squatter !x:example.org the addresses %q %q, which route to %s", a.Alias, a.AltAliases, demoRoom)
		}
		if len(a.Unverified) != 1 || a.Unverified[0] != "#"+demoSlug {
			t.Errorf("the squatter's unverified_aliases are %q", a.Unverified)
		}
		if d := csAPIRoomOf(t, e, demoRoom); d.Alias != "#"+demoSlug {
			t.Errorf("the demo room's canonical_alias is %q", d.Alias)
		}
	})
}

// TestAboutAltAliasIsVerified: a squatter lists the demo room's address
// in its alt_aliases. A reader of the squatter's about page saw it
// given as the squatter's address; it is now only under the claimed
// addresses, said not to lead there.
func TestAboutAltAliasIsVerified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile, csSquatterRoom(t, `{"alt_aliases":["#`+demoSlug+`"]}`))
		doc := e.page(t, "/room/!x:example.org/about", http.StatusOK)
		if addr := doc.Find("dl.about dd").First().Text(); strings.Contains(addr, demoSlug) {
			t.Errorf("the squatter's about page gives its address as %q; #%s routes to %s", strings.TrimSpace(addr), demoSlug, demoRoom)
		}
		if claims := doc.Find("dd.alias-claims"); claims.Find("code.alias-claim").Text() != "#"+demoSlug || !strings.Contains(claims.Text(), "not verified") {
			t.Errorf("the squatter's claimed addresses read %q", strings.TrimSpace(claims.Text()))
		}
	})
}

// TestDirectoryFilterMatchesRoutedAliases: a reader looked the demo room
// up in the directory by its address. The squatter, which only claims
// that address (alt_aliases) and is named like the real room, was listed
// as a match too, with nothing saying the address is not its own.
func TestDirectoryFilterMatchesRoutedAliases(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile, csSquatterRoom(t, `{"alt_aliases":["#`+demoSlug+`"]}`,
		csState("$n", "m.room.name", "!x:example.org", "@a:example.org", 1767225600004, `{"name":"Ansible Community (official)"}`)))
	doc := e.page(t, "/?q=%23"+demoSlug, http.StatusOK)
	found := false
	doc.Find("li.room a.room-name").Each(func(_ int, a *goquery.Selection) {
		href, _ := a.Attr("href")
		if strings.Contains(href, "!x:example.org") {
			t.Errorf("the directory's match for #%s lists the squatter %q (%s)", demoSlug, a.Text(), href)
		}
		found = found || href == "/room/"+demoSlug
	})
	if !found {
		t.Errorf("the directory's match for #%s does not list the demo room", demoSlug)
	}
}

// TestRoutedAltAliasIsAnAddress: an alt_alias that leads to the room (an
// import's unclaimed alias is routed to it) is one of its addresses: its
// about page and the API give it, and the directory finds the room by it.
func TestRoutedAltAliasIsAnAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile, csSquatterRoom(t, `{"alt_aliases":["#elsewhere:example.org"]}`))
		doc := e.page(t, "/room/!x:example.org/about", http.StatusOK)
		if alt := doc.Find("dl.about dd code.alt-alias").Text(); alt != "#elsewhere:example.org" {
			t.Errorf("the room's about page gives the alt address %q", alt)
		}
		if n := doc.Find("dd.alias-claims").Length(); n != 0 {
			t.Errorf("a routed address is shown as a claim: %q", doc.Find("dd.alias-claims").Text())
		}
		if a := csAPIRoomOf(t, e, "!x:example.org"); len(a.AltAliases) != 1 || a.AltAliases[0] != "#elsewhere:example.org" || len(a.Unverified) != 0 {
			t.Errorf("the API gives alt_aliases %q, unverified %q", a.AltAliases, a.Unverified)
		}
		var hrefs []string
		e.page(t, "/?q=elsewhere", http.StatusOK).Find("li.room a.room-name").Each(func(_ int, a *goquery.Selection) {
			hrefs = append(hrefs, a.AttrOr("href", ""))
		})
		if len(hrefs) != 1 || !strings.Contains(hrefs[0], "!x:example.org") {
			t.Errorf("the directory's match for elsewhere lists %q", hrefs)
		}
	})
}

// The room list reads the routes of every room's alternative addresses
// at once: it looked each one up, up to 20 a room, so a list of many
// rooms with many aliases cost thousands of queries a request.
func TestRoomListReadsAliasRoutesAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var files []string
		for i := range 4 {
			room := fmt.Sprintf("!r%d:example.org", i)
			var alts []string
			for j := range 10 {
				alts = append(alts, fmt.Sprintf(`"#alt%d-%d:example.org"`, i, j))
			}
			files = append(files, writeRoom(t,
				`{"event_id":"$hv`+itoa(int64(i))+`","room_id":"`+room+`","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600002,"state_key":"","content":{"history_visibility":"world_readable"}}`,
				`{"event_id":"$ca`+itoa(int64(i))+`","room_id":"`+room+`","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":{"alt_aliases":[`+strings.Join(alts, ",")+`]}}`,
				`{"event_id":"$m`+itoa(int64(i))+`","room_id":"`+room+`","type":"m.room.message","sender":"@a:example.org","origin_server_ts":1767225601000,"content":{"msgtype":"m.text","body":"hi"}}`))
		}
		e := newEnv(t, st, files...)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		e.get(t, "/api/v1/rooms") // the via servers, computed once
		before := count()
		if rec := e.get(t, "/api/v1/rooms"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "#alt3-9:example.org") {
			t.Fatalf("GET /api/v1/rooms = %d:\n%.500s", rec.Code, rec.Body.String())
		}
		if n := count() - before; n > 8 {
			t.Errorf("the room list of 4 rooms with 10 alternative addresses each took %d queries; want them read at once", n)
		}
	})
}
