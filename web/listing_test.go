package web_test

import (
	"net/http"
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
