package web_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

const base = "https://archive.example"

type xmlSitemapIndex struct {
	XMLName  xml.Name `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 sitemapindex"`
	Sitemaps []struct {
		Loc     string `xml:"loc"`
		LastMod string `xml:"lastmod"`
	} `xml:"sitemap"`
}

type xmlURLSet struct {
	XMLName xml.Name `xml:"http://www.sitemaps.org/schemas/sitemap/0.9 urlset"`
	URLs    []struct {
		Loc     string `xml:"loc"`
		LastMod string `xml:"lastmod"`
	} `xml:"url"`
}

// getXML fetches path, checks it is XML with the server's caching headers,
// and decodes it into v.
func (e *env) getXML(t *testing.T, path string, v any) {
	t.Helper()
	rec := e.get(t, path)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d: %.500s", path, rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if rec.Header().Get("ETag") == "" || rec.Header().Get("Cache-Control") != "public, no-cache" {
		t.Errorf("GET %s: ETag %q Cache-Control %q", path, rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
	}
	if !strings.HasPrefix(rec.Body.String(), `<?xml version="1.0" encoding="UTF-8"?>`) {
		t.Errorf("GET %s: no XML declaration: %.100s", path, rec.Body.String())
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v\n%.1000s", path, err, rec.Body.String())
	}
}

func (e *env) sitemapLocs(t *testing.T) []string {
	t.Helper()
	var idx xmlSitemapIndex
	e.getXML(t, "/sitemap.xml", &idx)
	var out []string
	for _, s := range idx.Sitemaps {
		out = append(out, s.Loc)
	}
	slices.Sort(out)
	return out
}

// roomLines is a small world-readable room with one message.
func roomLines(room string, ts int64, extra ...string) string {
	lines := []string{
		fmt.Sprintf(`{"event_id":"$c-%[1]s","room_id":%[1]q,"type":"m.room.create","sender":"@a:example.org","origin_server_ts":%[2]d,"state_key":"","content":{"room_version":"10"}}`, room, ts),
		fmt.Sprintf(`{"event_id":"$hv-%[1]s","room_id":%[1]q,"type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":%[2]d,"state_key":"","content":{"history_visibility":"world_readable"}}`, room, ts+1),
		fmt.Sprintf(`{"event_id":"$m-%[1]s","room_id":%[1]q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%[2]d,"content":{"msgtype":"m.text","body":"hello"}}`, room, ts+2),
	}
	return strings.Join(append(lines, extra...), "\n")
}

const bot = "@archive:example.org"

func memberLine(room, evID, sender, target, membership string, ts int64) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":%q}}`,
		evID, room, sender, ts, target, membership)
}

// The index lists every room the directory shows and no other: a room no
// longer world-readable, hidden by the operator, with the bot kicked, or
// purged is absent; a room shown again is back. It gives no lastmod (a
// room's sitemap changes with every change to the room: sitemap.go).
func TestSitemapIndexListsShownRoomsOnly(t *testing.T) {
	storetest.EachWith(t, store.Options{Bot: bot}, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const t0 = 1767225600000
		e := newEnv(t, st, demoFile, writeRoom(t, msgLine("$x1", t0+3000, `{"msgtype":"m.text","body":"x"}`)))
		e.addEvents(t,
			roomLines("!private:example.org", t0,
				`{"event_id":"$hv2","room_id":"!private:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225700000,"state_key":"","content":{"history_visibility":"shared"}}`),
			roomLines("!op:example.org", t0),
			roomLines("!kicked:example.org", t0,
				memberLine("!kicked:example.org", "$botjoin", bot, bot, "join", t0+10),
				memberLine("!kicked:example.org", "$botkick", "@a:example.org", bot, "leave", t0+20)),
			roomLines("!purged:example.org", t0),
		)
		if _, err := st.PurgeRoom(ctx, "!purged:example.org", false); err != nil {
			t.Fatal(err)
		}
		shown := []string{
			base + "/sitemap/!op:example.org.xml",
			base + "/sitemap/!x:example.org.xml",
			base + "/sitemap/" + demoSlug + ".xml",
		}
		if got := e.sitemapLocs(t); !slices.Equal(got, shown) {
			t.Errorf("index = %q\nwant    %q", got, shown)
		}
		if err := st.HideRoom(ctx, "!op:example.org", true, "spam"); err != nil {
			t.Fatal(err)
		}
		if got := e.sitemapLocs(t); slices.Contains(got, base+"/sitemap/!op:example.org.xml") || len(got) != 2 {
			t.Errorf("index with a room hidden by the operator = %q", got)
		}
		if err := st.HideRoom(ctx, "!op:example.org", false, ""); err != nil {
			t.Fatal(err)
		}
		if got := e.sitemapLocs(t); !slices.Equal(got, shown) {
			t.Errorf("index after the room is shown again = %q", got)
		}
		var idx xmlSitemapIndex
		e.getXML(t, "/sitemap.xml", &idx)
		for _, s := range idx.Sitemaps {
			if s.LastMod != "" {
				t.Errorf("lastmod of %s = %q, want none", s.Loc, s.LastMod)
			}
		}
		// The rooms left out answer as their pages do.
		for room, code := range map[string]int{
			"!private:example.org": http.StatusGone, "!kicked:example.org": http.StatusGone,
			"!purged:example.org": http.StatusGone, "!nowhere:example.org": http.StatusNotFound,
		} {
			for _, p := range []string{"/sitemap/" + room + ".xml", "/room/" + room + "/2026-01-01"} {
				rec := e.get(t, p)
				if rec.Code != code {
					t.Errorf("GET %s = %d, want %d", p, rec.Code, code)
				}
				if strings.Contains(rec.Body.String(), "<urlset") || strings.Contains(rec.Body.String(), "hello") {
					t.Errorf("GET %s leaks the room: %.300s", p, rec.Body.String())
				}
			}
		}
		if err := st.HideRoom(ctx, "!op:example.org", true, ""); err != nil {
			t.Fatal(err)
		}
		if rec := e.get(t, "/sitemap/!op:example.org.xml"); rec.Code != http.StatusGone {
			t.Errorf("sitemap of a room hidden by the operator = %d", rec.Code)
		}
	})
}

// A room's sitemap lists exactly the days that have messages to show,
// with the day navigation's URLs, and as lastmod the room's latest change:
// no earlier than the day's latest message, no later than now.
func TestRoomSitemapListsDaysWithMessages(t *testing.T) {
	fx := fixtureEvents(t, demoFile)
	want := map[string]int64{}
	for _, ev := range fx {
		if ev.Type == "m.room.message" && !strings.Contains(string(ev.Content), `"m.replace"`) {
			d := time.UnixMilli(ev.OriginTS).UTC().Format("2006-01-02")
			want[d] = max(want[d], ev.OriginTS)
		}
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile)
		var set xmlURLSet
		e.getXML(t, "/sitemap/"+demoSlug+".xml", &set)
		got := map[string]int64{}
		var order []string
		for _, u := range set.URLs {
			date, ok := strings.CutPrefix(u.Loc, base+"/room/"+demoSlug+"/")
			if !ok {
				t.Errorf("URL %q is not a day page of the room", u.Loc)
				continue
			}
			ts, err := time.Parse(time.RFC3339, u.LastMod)
			if err != nil {
				t.Errorf("%s: lastmod %q: %v", date, u.LastMod, err)
			}
			got[date] = ts.UnixMilli()
			order = append(order, date)
			// The URL is the day page, which has messages.
			e.page(t, strings.TrimPrefix(u.Loc, base), http.StatusOK)
		}
		if len(got) != len(want) || len(want) < 3 {
			t.Errorf("%d days listed, want %d: %v", len(got), len(want), order)
		}
		for d, ts := range want {
			if lm, listed := got[d]; !listed || lm < ts || lm > time.Now().UnixMilli() {
				t.Errorf("day %s: listed %v, lastmod %d, want %d", d, listed, lm, ts)
			}
		}
		if !slices.IsSorted(order) {
			t.Errorf("days not in order: %v", order)
		}
		// The same days as following the day pages' navigation.
		nav := []string{}
		for p := e.redirect(t, "/room/"+demoSlug, http.StatusFound); p != ""; {
			nav = append([]string{strings.TrimPrefix(p, "/room/"+demoSlug+"/")}, nav...)
			p, _ = e.page(t, p, http.StatusOK).Find("nav.days a.prev").First().Attr("href")
		}
		if !slices.Equal(nav, order) {
			t.Errorf("sitemap days %v, day navigation %v", order, nav)
		}
		// A non-canonical name redirects; bad addresses are clear errors.
		if loc := e.redirect(t, "/sitemap/"+demoRoom+".xml", http.StatusFound); loc != "/sitemap/"+demoSlug+".xml" {
			t.Errorf("room ID redirects to %q", loc)
		}
		e.page(t, "/sitemap/"+demoSlug, http.StatusNotFound)
		e.page(t, "/sitemap/"+demoSlug+".xml?page=0", http.StatusBadRequest)
		e.page(t, "/sitemap/"+demoSlug+".xml?page=2", http.StatusNotFound)
		e.page(t, "/sitemap/%23"+demoSlug+".xml", http.StatusBadRequest)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/sitemap/"+demoSlug+".xml", nil))
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD = %d", rec.Code)
		}
	})
}

// Days holding only redacted, opted-out or expired messages, or only state
// changes, are not listed; the sitemap revalidates like the pages.
func TestRoomSitemapLeavesOutDaysWithoutShownMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const d1 = 1767225600000 // 2026-01-01
		day := int64(24 * time.Hour / time.Millisecond)
		e := newEnv(t, st, writeRoom(t,
			msgLine("$d1a", d1+3000, `{"msgtype":"m.text","body":"one"}`),
			msgLine("$d1b", d1+10*3600*1000, `{"msgtype":"m.text","body":"two"}`),
			msgLine("$d2", d1+day+5, `{"msgtype":"m.text","body":"redacted soon"}`),
			redactionLine("$r2", "@a:example.org", d1+day+6, "$d2", "oops"),
			`{"event_id":"$topic","room_id":"!x:example.org","type":"m.room.topic","sender":"@a:example.org","origin_server_ts":1767398400000,"state_key":"","content":{"topic":"t"}}`,
			`{"event_id":"$bob4","room_id":"!x:example.org","type":"m.room.message","sender":"@b:example.org","origin_server_ts":1767484800000,"content":{"msgtype":"m.text","body":"bob"}}`,
			msgLine("$d5", d1+4*day+7, `{"msgtype":"m.text","body":"five"}`),
		))
		if _, err := st.OptOut(ctx, "@b:example.org", "dm"); err != nil {
			t.Fatal(err)
		}
		days := func() string {
			var set xmlURLSet
			e.getXML(t, "/sitemap/!x:example.org.xml", &set)
			var out []string
			for _, u := range set.URLs {
				out = append(out, strings.TrimPrefix(u.Loc, base+"/room/!x:example.org/"))
			}
			return strings.Join(out, " ")
		}
		if got, want := days(), "2026-01-01 2026-01-05"; got != want {
			t.Errorf("days = %s\nwant   %s", got, want)
		}
		if _, err := st.OptIn(ctx, "@b:example.org"); err != nil {
			t.Fatal(err)
		}
		if got := days(); !strings.Contains(got, "2026-01-04") {
			t.Errorf("after the opt-in, bob's day is missing: %s", got)
		}
		// Revalidation: 304 while nothing changed.
		first := e.get(t, "/sitemap/!x:example.org.xml")
		req := httptest.NewRequest(http.MethodGet, "/sitemap/!x:example.org.xml", nil)
		req.Header.Set("If-None-Match", first.Header().Get("ETag"))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("revalidation = %d", rec.Code)
		}
	})
	// Expired messages make no day appear.
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(48 * time.Hour)}})
	now := time.Now().UTC()
	e := newEnv(t, st, writeRoom(t,
		msgLine("$old", now.Add(-5*24*time.Hour).UnixMilli(), `{"msgtype":"m.text","body":"old"}`),
		msgLine("$new", now.UnixMilli(), `{"msgtype":"m.text","body":"new"}`),
	))
	var set xmlURLSet
	e.getXML(t, "/sitemap/!x:example.org.xml", &set)
	if len(set.URLs) != 1 || set.URLs[0].Loc != base+"/room/!x:example.org/"+now.Format("2006-01-02") {
		t.Errorf("with expired messages: %+v", set.URLs)
	}
}

func TestRobotsTxt(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	rec := e.get(t, "/robots.txt")
	want := "User-agent: *\nDisallow: /api/\nDisallow: /search\nDisallow: /room/*/feed.atom\nDisallow: /room/*/meetings.atom\nAllow: /\n\nSitemap: https://archive.example/sitemap.xml\n"
	if rec.Code != http.StatusOK || rec.Body.String() != want {
		t.Errorf("robots.txt = %d:\n%s\nwant:\n%s", rec.Code, rec.Body.String(), want)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	// Without a base URL there is no sitemap to name (the request's host
	// is no source for one: TestForgedHostIsNeverReflected).
	srv, err := web.New(e.st, render.New(render.Options{}), storetest.Logger(t), web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://archive.test:8080/robots.txt", nil))
	if rec.Body.String() != "User-agent: *\nDisallow: /api/\nDisallow: /search\nDisallow: /room/*/feed.atom\nDisallow: /room/*/meetings.atom\nAllow: /\n" {
		t.Errorf("robots.txt without a base URL:\n%s", rec.Body.String())
	}
	// An empty archive has an empty, valid index.
	var idx xmlSitemapIndex
	e.getXML(t, "/sitemap.xml", &idx)
	if len(idx.Sitemaps) != 0 {
		t.Errorf("empty archive: %+v", idx.Sitemaps)
	}
}

// A room's sitemap lists its days with messages up to tomorrow, whatever
// the span of its timestamps: a room stamped at 1970 and in 2160 (69,000
// days apart, more than one sitemap may list) has one sitemap, with its
// one day of the past, and no second page.
func TestRoomSitemapPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		late := time.Date(2160, 6, 1, 12, 0, 0, 0, time.UTC).UnixMilli() // 69,000 days after 1970
		e := newEnv(t, st)
		e.addEvents(t, roomLines("!long:example.org", 1000,
			`{"event_id":"$late","room_id":"!long:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":`+fmt.Sprint(late)+`,"content":{"msgtype":"m.text","body":"from the future"}}`))
		var idx xmlSitemapIndex
		e.getXML(t, "/sitemap.xml", &idx)
		if len(idx.Sitemaps) != 1 || idx.Sitemaps[0].Loc != base+"/sitemap/!long:example.org.xml" || idx.Sitemaps[0].LastMod != "" {
			t.Errorf("index = %+v", idx.Sitemaps)
		}
		for path, want := range map[string]string{
			"/sitemap/!long:example.org.xml":        base + "/room/!long:example.org/1970-01-01",
			"/sitemap/!long:example.org.xml?page=1": base + "/room/!long:example.org/1970-01-01",
		} {
			var set xmlURLSet
			e.getXML(t, path, &set)
			if len(set.URLs) != 1 || set.URLs[0].Loc != want {
				t.Errorf("%s = %+v, want %s", path, set.URLs, want)
			}
		}
		e.page(t, "/sitemap/!long:example.org.xml?page=2", http.StatusNotFound)
	})
}

// URLs are escaped for XML: an alias with '&' and '<' stays one valid URL.
func TestSitemapEscaping(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"))
	e.addEvents(t, roomLines("!amp:example.org", 1767225600000,
		`{"event_id":"$alias","room_id":"!amp:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600005,"state_key":"","content":{"alias":"#q&a<b>:example.org"}}`))
	for _, path := range []string{"/sitemap.xml", "/sitemap/q&a%3Cb%3E:example.org.xml"} {
		rec := e.get(t, path)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "q&amp;a%3Cb%3E:example.org") {
			t.Errorf("%s = %d:\n%s", path, rec.Code, rec.Body.String())
		}
	}
	var set xmlURLSet
	e.getXML(t, "/sitemap/q&a%3Cb%3E:example.org.xml", &set)
	if len(set.URLs) != 1 || set.URLs[0].Loc != base+"/room/q&a%3Cb%3E:example.org/2026-01-01" {
		t.Errorf("urlset = %+v", set.URLs)
	}
}

// Without base_url the archive has no address of its own: it must never
// take one from the request (Host, X-Forwarded-*), which anyone can forge
// and caches would keep. The API links by path, robots.txt names no
// sitemap, and sitemaps (which need absolute URLs) say what is missing.
func TestForgedHostIsNeverReflected(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newEnv(t, st, demoFile)
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	forged := func(path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = "evil.example"
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	for _, p := range []string{"/robots.txt", "/sitemap.xml", "/sitemap/" + demoSlug + ".xml", "/api/v1/rooms",
		"/api/v1/events/" + editOrig, "/api/v1/rooms/" + demoSlug + "/events?date=2026-03-03", "/api/v1/rooms/" + demoSlug + "/redactions"} {
		if rec := forged(p); strings.Contains(rec.Body.String(), "evil.example") || strings.Contains(rec.Header().Get("Location"), "evil.example") {
			t.Errorf("%s reflects the forged host (%d):\n%.600s", p, rec.Code, rec.Body.String())
		}
	}
	if rec := forged("/robots.txt"); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "Sitemap:") {
		t.Errorf("robots.txt without base_url = %d:\n%s", rec.Code, rec.Body.String())
	}
	if rec := forged("/sitemap.xml"); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "base_url") {
		t.Errorf("sitemap without base_url = %d:\n%.600s", rec.Code, rec.Body.String())
	}
	var rooms struct {
		Rooms []struct {
			URL string `json:"url"`
		} `json:"rooms"`
	}
	decode(t, forged("/api/v1/rooms"), http.StatusOK, &rooms)
	if len(rooms.Rooms) != 1 || rooms.Rooms[0].URL != "/room/"+demoSlug {
		t.Errorf("API room URLs = %+v", rooms.Rooms)
	}
}
