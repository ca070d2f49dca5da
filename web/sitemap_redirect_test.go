package web_test

import (
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A room's sitemap asked for with ?page= by the room ID (a link from
// before the room had an alias) redirects to the slug with one ?page=: a
// redirect that added the request's query twice sent crawlers to
// "...xml?page=1?page=1", a 400. A page after the first, which an index
// of old listed for a room stamped over 50,000 days, is 404 now.
func TestStaleSitemapPageRedirectKeepsOneQuery(t *testing.T) {
	text := func(s string) string { return `{"msgtype":"m.text","body":"` + s + `"}` }
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$a1", 1767312001000, text("2026")),
		msgLine("$a2", 7258118400000, text("2200")), // more than sitemapMaxURLs days on
	))
	e.addEvents(t, `{"event_id":"$ca","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767312000500,"state_key":"","content":{"alias":"#proj:example.org"}}`)
	if rec := e.get(t, "/sitemap/proj:example.org.xml?page=2"); rec.Code != http.StatusNotFound {
		t.Errorf("the slug's sitemap page 2 = %d, want 404: the room has one page", rec.Code)
	}
	rec := e.get(t, "/sitemap/!x:example.org.xml?page=1")
	loc := rec.Header().Get("Location")
	const want = "/sitemap/proj:example.org.xml?page=1"
	if rec.Code != http.StatusFound || loc != want {
		t.Fatalf("GET /sitemap/!x:example.org.xml?page=1 = %d to %q, want a redirect to %q", rec.Code, loc, want)
	}
	if rec := e.get(t, loc); rec.Code != http.StatusOK {
		t.Errorf("GET %s = %d", loc, rec.Code)
	}
}
