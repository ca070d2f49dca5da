package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestSitemapLeavesOutNoindexRoom: a search engine read the sitemap index
// and found a room shown only under show_formerly_public, whose pages
// say noindex (roomRobots), and that room's own sitemap answered 200: the
// archive offered pages it told the engine not to index. The sitemaps now
// apply the pages' own rule: neither a formerly public room nor one whose
// archive_controls say noindex is offered, while a room whose rules do
// not forbid indexing (nofollow) still is.
func TestSitemapLeavesOutNoindexRoom(t *testing.T) {
	const t0 = 1767225600000
	controls := func(room, typ, content string) string {
		return `{"event_id":"$ac-` + room + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","origin_server_ts":` + itoa(t0+5) + `,"state_key":"","content":` + content + `}`
	}
	st := storetest.OpenWith(t, "sqlite", store.Options{ShowFormerlyPublic: true})
	e := newEnv(t, st, writeRoom(t, msgLine("$m", t0+1000, `{"msgtype":"m.text","body":"hello"}`)))
	e.addEvents(t,
		`{"event_id":"$hv9","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767300000000,"state_key":"","content":{"history_visibility":"shared"}}`,
		roomLines("!ni:example.org", t0, controls("!ni:example.org", "m.room.archive_controls", `{"archive":true,"robots":["noindex"]}`)),
		roomLines("!no:example.org", t0, controls("!no:example.org", "m.room.archive_controls", `{"archive":true,"robots":["none"]}`)),
		roomLines("!nf:example.org", t0, controls("!nf:example.org", "m.room.archive_controls", `{"archive":true,"robots":["nofollow"]}`)),
	)
	for _, room := range []string{"!x:example.org", "!ni:example.org", "!no:example.org"} {
		if got := e.get(t, "/room/"+room+"/2026-01-01").Header().Get("X-Robots-Tag"); !strings.Contains(got, "noindex") && got != "none" {
			t.Fatalf("%s: the day page's X-Robots-Tag is %q", room, got)
		}
		if body := e.get(t, "/sitemap.xml").Body.String(); strings.Contains(body, room) {
			t.Errorf("the sitemap index lists %s, whose pages are noindex:\n%s", room, body)
		}
		if rec := e.get(t, "/sitemap/"+room+".xml"); rec.Code != http.StatusNotFound {
			t.Errorf("the sitemap of %s, whose pages are noindex, answers %d:\n%s", room, rec.Code, rec.Body.String())
		}
	}
	if got := e.sitemapLocs(t); len(got) != 1 || got[0] != base+"/sitemap/!nf:example.org.xml" {
		t.Errorf("index = %q, want only the nofollow room", got)
	}
	rec := e.get(t, "/sitemap/!nf:example.org.xml")
	if rec.Code != http.StatusOK || rec.Header().Get("X-Robots-Tag") != "" {
		t.Errorf("the nofollow room's sitemap = %d, X-Robots-Tag %q", rec.Code, rec.Header().Get("X-Robots-Tag"))
	}
}

// TestSitemapNotFloodedByOneRoomsTimestamps: a homeserver stamped two
// messages of its room at 1970 and some nine million years on. The
// sitemap counted the room's pages by its time span (one per 50,000
// days), and a crawler got an index of 4.9 MB holding 50,000 sitemaps of
// that room and no other. A room's sitemap now lists its days with
// messages up to tomorrow: one sitemap per room, the demo room stays in
// the index, and the forged room's sitemap offers no day of the future.
// (The message stamped past 9999 is stored on the day it was read,
// store.clampPastDays.)
func TestSitemapNotFloodedByOneRoomsTimestamps(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	const evil = "!evil:evil.org"
	state := func(evID, typ string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + evil + `","type":"` + typ + `","sender":"@mallory:evil.org","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	said := func(evID string, ts int64, body string) string {
		return `{"event_id":"` + evID + `","room_id":"` + evil + `","type":"m.room.message","sender":"@mallory:evil.org","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"` + body + `"}}`
	}
	e.addAtOnce(t,
		state("$c9", "m.room.create", 1, `{"room_version":"10"}`),
		state("$hv9", "m.room.history_visibility", 2, `{"history_visibility":"world_readable"}`),
		said("$old", 3, "first"),
		said("$far", 300000000000000000, "last"),
	)
	read := time.Now().UTC().Format("2006-01-02")
	rec := e.get(t, "/sitemap.xml")
	body := rec.Body.String()
	if !strings.Contains(body, demoSlug) && !strings.Contains(body, demoRoom) {
		t.Errorf("the sitemap index (%d bytes, %d sitemaps) no longer lists the demo room", len(body), strings.Count(body, "<sitemap>"))
	}
	if n := strings.Count(body, "<sitemap>"); n != 2 {
		t.Errorf("the index holds %d sitemaps for 2 rooms:\n%.2000s", n, body)
	}
	var set xmlURLSet
	e.getXML(t, "/sitemap/"+evil+".xml", &set)
	if len(set.URLs) != 2 || set.URLs[0].Loc != base+"/room/"+evil+"/1970-01-01" ||
		set.URLs[1].Loc != base+"/room/"+evil+"/"+read && set.URLs[1].Loc != base+"/room/"+evil+"/"+time.Now().UTC().Format("2006-01-02") {
		t.Errorf("the forged room's sitemap = %+v, want its day of 1970 and the day it was read", set.URLs)
	}
	for _, u := range set.URLs {
		if lm, err := time.Parse(time.RFC3339, u.LastMod); err != nil || lm.After(time.Now()) {
			t.Errorf("%s: lastmod %q is not a time of the past (%v)", u.Loc, u.LastMod, err)
		}
	}
	e.page(t, "/sitemap/"+evil+".xml?page=2", http.StatusNotFound)
}

// TestSitemapLastModFollowsChanges: a crawler trusting a room sitemap's
// <lastmod> fetches a day page again only when it moved on. It stayed the
// time of the day's latest message through a redaction, an edit or the
// sender's opt-out, so the crawler kept the withdrawn text; where the
// redacted message was the day's last, lastmod even went back in time.
// lastmod is now the time of the room's latest change (or of where
// screening stands), so each of those moves it on.
func TestSitemapLastModFollowsChanges(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, e *env)
	}{
		{"redaction of an earlier message", func(t *testing.T, e *env) {
			e.addEvents(t, redactionLine("$r", aUser, 1767225605000, "$m", "spam"))
		}},
		{"redaction of the last message", func(t *testing.T, e *env) {
			e.addEvents(t, redactionLine("$r", zUser, 1767225605000, "$zm", ""))
		}},
		{"edit", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$ed", "m.room.message", 5000, aUser, nil,
				`{"msgtype":"m.text","body":"* betaword","m.new_content":{"msgtype":"m.text","body":"betaword"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
		}},
		{"opt-out", func(t *testing.T, e *env) {
			if _, err := e.st.OptOut(ctx, zUser, store.OptOutByOperator); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, cacheRoom()...))
			var before xmlURLSet
			e.getXML(t, "/sitemap/!x:example.org.xml", &before)
			if len(before.URLs) != 1 {
				t.Fatalf("sitemap before: %+v", before)
			}
			// Changes are stored to the millisecond: the change comes in
			// a later one than the import, as any a crawler could tell
			// apart would.
			time.Sleep(2 * time.Millisecond)
			c.change(t, e)
			var after xmlURLSet
			e.getXML(t, "/sitemap/!x:example.org.xml", &after)
			if len(after.URLs) != 1 {
				t.Fatalf("sitemap after: %+v", after)
			}
			if after.URLs[0].LastMod <= before.URLs[0].LastMod {
				t.Errorf("after the %s the day page changed, but its sitemap lastmod went %s → %s", c.name, before.URLs[0].LastMod, after.URLs[0].LastMod)
			}
			if lm, err := time.Parse(time.RFC3339, after.URLs[0].LastMod); err != nil || lm.After(time.Now()) {
				t.Errorf("lastmod %q is not a time of the past (%v)", after.URLs[0].LastMod, err)
			}
			// Nothing changed: lastmod stays.
			var again xmlURLSet
			e.getXML(t, "/sitemap/!x:example.org.xml", &again)
			if again.URLs[0].LastMod != after.URLs[0].LastMod {
				t.Errorf("with no change lastmod went %s → %s", after.URLs[0].LastMod, again.URLs[0].LastMod)
			}
		})
	}
}
