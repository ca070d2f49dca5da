package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestUnlistedRoomIsNotListed: a room whose m.room.archive_controls says
// "archive": false (stable or unstable type) is in no directory page, no
// directory JSON and no sitemap, and a space that says so names no rooms,
// but the room's pages still answer by direct link (permalinks are
// forever), with noindex.
func TestUnlistedRoomIsNotListed(t *testing.T) {
	const t0 = 1767225600000
	controls := func(room, typ, content string) string {
		return `{"event_id":"$ac-` + room + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","origin_server_ts":` + itoa(t0+5) + `,"state_key":"","content":` + content + `}`
	}
	child := func(space, room string) string {
		return `{"event_id":"$sc-` + space + room + `","room_id":"` + space + `","type":"m.space.child","sender":"@a:example.org","origin_server_ts":` + itoa(t0+6) + `,"state_key":"` + room + `","content":{"via":["example.org"]}}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, msgLine("$x1", t0+3000, `{"msgtype":"m.text","body":"listed"}`)))
		e.addEvents(t,
			roomLines("!u:example.org", t0, controls("!u:example.org", "m.room.archive_controls", `{"archive":false}`)),
			roomLines("!v:example.org", t0, controls("!v:example.org", "org.matrix.msc4021.archive_controls", `{"archive":false}`)),
			roomLines("!w:example.org", t0, controls("!w:example.org", "m.room.archive_controls", `{"archive":true,"robots":["nofollow"]}`)),
			// A listed space holding only an unlisted room, and an unlisted
			// space holding a listed one: neither is offered as a group.
			roomLines("!s:example.org", t0, child("!s:example.org", "!u:example.org")),
			roomLines("!us:example.org", t0, child("!us:example.org", "!x:example.org"),
				controls("!us:example.org", "m.room.archive_controls", `{"archive":false}`)),
		)
		listed := []string{"!s:example.org", "!w:example.org", "!x:example.org"}

		var dir []string
		e.page(t, "/", http.StatusOK).Find("li.room a").Each(func(_ int, s *goquery.Selection) {
			if h := s.AttrOr("href", ""); strings.HasPrefix(h, "/room/") && strings.Count(h, "/") == 2 {
				dir = append(dir, strings.TrimPrefix(h, "/room/"))
			}
		})
		slices.Sort(dir)
		if !slices.Equal(slices.Compact(dir), listed) {
			t.Errorf("directory lists %q, want %q", dir, listed)
		}
		if n := e.page(t, "/?q=u:example", http.StatusOK).Find("li.room").Length(); n != 0 {
			t.Errorf("the directory's filter finds %d unlisted rooms", n)
		}
		if n := e.page(t, "/", http.StatusOK).Find("nav.spaces a.space").Length(); n != 0 {
			t.Errorf("%d spaces offered: neither has a listed room in it and a listed space", n)
		}

		var api struct {
			Rooms []struct {
				RoomID string `json:"room_id"`
			} `json:"rooms"`
		}
		decode(t, e.get(t, "/api/v1/rooms"), http.StatusOK, &api)
		var ids []string
		for _, r := range api.Rooms {
			ids = append(ids, r.RoomID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, listed) {
			t.Errorf("/api/v1/rooms lists %q, want %q", ids, listed)
		}

		var want []string
		for _, r := range listed {
			want = append(want, base+"/sitemap/"+r+".xml")
		}
		if got := e.sitemapLocs(t); !slices.Equal(got, want) {
			t.Errorf("sitemap index = %q\nwant %q", got, want)
		}
		for _, r := range []string{"!u:example.org", "!v:example.org"} {
			if rec := e.get(t, "/sitemap/"+r+".xml"); rec.Code != http.StatusNotFound {
				t.Errorf("%s's sitemap = %d, want 404", r, rec.Code)
			}
			// Reachable by link, not indexed.
			for _, path := range []string{"/room/" + r + "/2026-01-01", "/room/" + r + "/event/$m-" + r, "/room/" + r + "/about"} {
				rec := e.get(t, path)
				if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("X-Robots-Tag"), "noindex") {
					t.Errorf("%s = %d, X-Robots-Tag %q", path, rec.Code, rec.Header().Get("X-Robots-Tag"))
				}
			}
		}
		// The search form's rooms are listed rooms, and the one asked for
		// by in:, listed or not (its reader knows it).
		e.withSearch(t)
		options := func(path string) (opts []string) {
			e.page(t, path, http.StatusOK).Find("select[name=in] option").Each(func(_ int, s *goquery.Selection) {
				if v := s.AttrOr("value", ""); v != "" {
					opts = append(opts, v)
				}
			})
			slices.Sort(opts)
			return opts
		}
		if got := options("/search"); !slices.Equal(got, listed) {
			t.Errorf("the search form offers %q, want %q", got, listed)
		}
		if got, want := options("/search?in=!u:example.org"), []string{"!s:example.org", "!u:example.org", "!w:example.org", "!x:example.org"}; !slices.Equal(got, want) {
			t.Errorf("the search form in !u offers %q, want %q", got, want)
		}
		// A search of every room finds no message of an unlisted one, nor
		// does its feed; a search in: one finds its messages.
		searched := func(path string) (rooms []string) {
			var out struct {
				Results []struct {
					RoomID string `json:"room_id"`
				} `json:"results"`
			}
			decode(t, e.get(t, path), http.StatusOK, &out)
			for _, r := range out.Results {
				rooms = append(rooms, r.RoomID)
			}
			slices.Sort(rooms)
			return rooms
		}
		if got, want := searched("/api/v1/search?q=hello"), []string{"!s:example.org", "!w:example.org"}; !slices.Equal(got, want) {
			t.Errorf("a search of every room finds messages of %q, want %q", got, want)
		}
		if got := searched("/api/v1/search?q=hello&in=!u:example.org"); !slices.Equal(got, []string{"!u:example.org"}) {
			t.Errorf("a search in !u finds messages of %q", got)
		}
		if feed := e.get(t, "/search/feed.atom?q=hello").Body.String(); strings.Contains(feed, "!u:example.org") || strings.Contains(feed, "!v:example.org") {
			t.Errorf("the search feed names an unlisted room")
		}
		if rec := e.get(t, "/sitemap/!w:example.org.xml"); rec.Code != http.StatusOK {
			t.Errorf("a room with archive: true has no sitemap: %d", rec.Code)
		}
	})
}

// TestBusyUnlistedRoomLeavesSearchPagesFull: a search of every room leaves
// an unlisted room's messages out in the index's query, not only after it:
// a busy unlisted room whose hits come first left pages short (or empty,
// with a link to the next). Its controls changing (listed again, unlisted
// again, the event redacted) is followed at once.
func TestBusyUnlistedRoomLeavesSearchPagesFull(t *testing.T) {
	const t0 = 1767225600000
	const u = "!u:example.org"
	controls := func(evID string, ts int64, archive bool) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.archive_controls","sender":"@a:example.org","origin_server_ts":%d,"state_key":"","content":{"archive":%t}}`, evID, u, ts, archive)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var listed []string
		for i := range 10 {
			listed = append(listed, msgLine(fmt.Sprintf("$x%d", i), t0+1000+int64(i), `{"msgtype":"m.text","body":"podman listed"}`))
		}
		busy := []string{controls("$ac1", t0+5, false)}
		for i := range 100 {
			busy = append(busy, fmt.Sprintf(`{"event_id":"$u%d","room_id":%q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"podman unlisted"}}`, i, u, t0+100000+int64(i)))
		}
		e := newEnv(t, st, writeRoom(t, listed...))
		e.addEvents(t, roomLines(u, t0, busy...))
		ix := e.withSearch(t)
		// pages follows a search's cursor: the rooms of each page.
		pages := func(q, sort string) (out [][]string) {
			t.Helper()
			cursor := ""
			for len(out) < 4 {
				var res struct {
					Results []struct {
						RoomID string `json:"room_id"`
					} `json:"results"`
					Next string `json:"next_cursor"`
				}
				decode(t, e.get(t, "/api/v1/search?size=5&sort="+sort+"&q="+url.QueryEscape(q)+"&cursor="+url.QueryEscape(cursor)), http.StatusOK, &res)
				var rooms []string
				for _, r := range res.Results {
					rooms = append(rooms, r.RoomID)
				}
				out = append(out, rooms)
				if cursor = res.Next; cursor == "" {
					break
				}
			}
			return out
		}
		fullOfListed := func(when string) {
			t.Helper()
			for _, sort := range []string{"newest", "relevance"} {
				got := pages("podman", sort)
				if len(got) < 2 || len(got[0]) != 5 || len(got[1]) != 5 || slices.ContainsFunc(slices.Concat(got...), func(r string) bool { return r != "!x:example.org" }) {
					t.Errorf("%s, %s: pages of rooms %q, want two of five of !x", when, sort, got)
				}
			}
		}
		fullOfListed("unlisted")

		update := func(lines ...string) {
			t.Helper()
			e.addEvents(t, roomLines(u, t0, lines...))
			if _, err := ix.CatchUp(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
		}
		update(controls("$ac2", t0+200000, true))
		if got := pages("podman", "newest"); len(got[0]) != 5 || slices.ContainsFunc(got[0], func(r string) bool { return r != u }) {
			t.Errorf("listed again: first page of rooms %q, want five of !u", got[0])
		}
		update(controls("$ac3", t0+200001, false))
		fullOfListed("unlisted again")
		update(fmt.Sprintf(`{"event_id":"$r","room_id":%q,"type":"m.room.redaction","sender":"@a:example.org","origin_server_ts":%d,"redacts":"$ac3","content":{}}`, u, t0+200002))
		if got := pages("podman", "newest"); len(got[0]) != 5 || slices.ContainsFunc(got[0], func(r string) bool { return r != u }) {
			t.Errorf("its controls redacted: first page of rooms %q, want five of !u", got[0])
		}
		// Erasing the moderator who sent them leaves them: they govern
		// the room.
		update(strings.Replace(controls("$ac4", t0+200003, false), "@a:", "@mod:", 1))
		fullOfListed("unlisted by a moderator")
		if _, err := st.EraseUser(context.Background(), "@mod:example.org", false); err != nil {
			t.Fatal(err)
		}
		fullOfListed("its moderator erased")
	})
}
