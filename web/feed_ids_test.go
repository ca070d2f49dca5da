package web_test

import (
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// canonicalAliasLine gives room !x the alias #proj:example.org.
const canonicalAliasLine = `{"event_id":"$ca","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225900000,"state_key":"","content":{"alias":"#proj:example.org"}}`

// TestFeedIDsArePermanent: an Atom feed's and its entries' IDs never
// change (RFC 4287 4.2.6); readers deduplicate on them. When a room gains
// an alias (its slug changes), a subscriber must not get every message or
// meeting again as new: the IDs stay the room-ID URLs, which still answer
// (redirecting to the slug), while the links follow the slug.
func TestFeedIDsArePermanent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m1", 1767225601000, `{"msgtype":"m.text","body":"hello"}`),
			meetingMsg("$s0", 120000, aUser, "#startmeeting Release sync"),
			meetingMsg("$s1", 180000, aUser, "#endmeeting"),
		))
		const byID = "https://archive.example/room/!x:example.org"
		for _, c := range []struct{ feed, entry string }{
			{"/feed.atom", "/event/$m1"},
			{"/meetings.atom", "/meeting/$s0"},
		} {
			before := e.feed(t, "/room/!x:example.org"+c.feed)
			if before.ID != byID+c.feed || len(before.Entries) == 0 || before.Entries[len(before.Entries)-1].ID != byID+c.entry {
				t.Fatalf("%s before the alias: feed %q entries %+v", c.feed, before.ID, before.Entries)
			}
		}
		e.addEvents(t, canonicalAliasLine)
		if rec := e.get(t, "/room/!x:example.org/feed.atom"); rec.Code != http.StatusFound {
			t.Fatalf("the room has no alias slug: its ID's feed answers %d", rec.Code)
		}
		const bySlug = "https://archive.example/room/proj:example.org"
		for _, c := range []struct{ feed, entry string }{
			{"/feed.atom", "/event/$m1"},
			{"/meetings.atom", "/meeting/$s0"},
		} {
			after := e.feed(t, "/room/proj:example.org"+c.feed)
			if after.ID != byID+c.feed {
				t.Errorf("%s: the feed's ID changed with the room's alias to %q", c.feed, after.ID)
			}
			if len(after.Entries) == 0 {
				t.Fatalf("%s: no entries", c.feed)
			}
			en := after.Entries[len(after.Entries)-1]
			if en.ID != byID+c.entry {
				t.Errorf("%s: the entry's ID changed with the room's alias to %q", c.feed, en.ID)
			}
			if en.Link.Href != bySlug+c.entry {
				t.Errorf("%s: the entry links %q, want the canonical %q", c.feed, en.Link.Href, bySlug+c.entry)
			}
			// The ID still answers: it redirects to the canonical page.
			if rec := e.get(t, en.ID[len("https://archive.example"):]); rec.Code != http.StatusFound || rec.Header().Get("Location") != bySlug[len("https://archive.example"):]+c.entry {
				t.Errorf("%s: GET %s = %d to %q", c.feed, en.ID, rec.Code, rec.Header().Get("Location"))
			}
		}
		// A search feed's entries too.
		e.withSearch(t)
		s := e.feed(t, "/search/feed.atom?q=hello")
		if len(s.Entries) != 1 || s.Entries[0].ID != byID+"/event/$m1" || s.Entries[0].Link.Href != bySlug+"/event/$m1" {
			t.Errorf("search feed entries %+v", s.Entries)
		}
	})
}
