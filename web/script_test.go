package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestScriptAndLiveToday: pages load archive.js from the archive's own
// origin under a content-named path (cached for good), the CSP allows
// scripts from there alone, and the current day's page offers the live
// fragment, which returns exactly the items after the one it is given.
func TestScriptAndLiveToday(t *testing.T) {
	// Times early in the current UTC day: the test cannot straddle midnight.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(3 * time.Second)
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$old", 1767225601000, `{"msgtype":"m.text","body":"old"}`),
		msgLine("$t1", now.Add(-2*time.Second).UnixMilli(), `{"msgtype":"m.text","body":"earlier today"}`),
	))
	today := "/room/!x:example.org/" + now.Format("2006-01-02")
	rec := e.get(t, today)
	if rec.Code != http.StatusOK {
		t.Fatalf("today = %d", rec.Code)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self';") || strings.Contains(csp, "unsafe-inline'; s") {
		t.Errorf("CSP %q", csp)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	src := doc.Find("head script[src]").AttrOr("src", "")
	if !strings.HasPrefix(src, "/static/archive.") || !strings.HasSuffix(src, ".js") || doc.Find("script:not([src])").Length() != 0 {
		t.Errorf("script %q, or an inline script", src)
	}
	js := e.get(t, src)
	if js.Code != http.StatusOK || !strings.Contains(js.Header().Get("Cache-Control"), "immutable") || !strings.Contains(js.Body.String(), "data-live-since") {
		t.Errorf("GET %s = %d %v", src, js.Code, js.Header())
	}
	if doc.Find(`a.skip-link[href="#main"]`).Length() != 1 || doc.Find("main#main").Length() != 1 {
		t.Error("no skip link to main")
	}
	if doc.Find(`time[data-ts="1767225601000"]`).Length() != 0 {
		t.Error("another day's message on today's page")
	}
	if doc.Find(fmt.Sprintf(`time[data-ts="%d"]`, now.Add(-2*time.Second).UnixMilli())).Length() != 1 {
		t.Error("no data-ts on today's message")
	}
	if doc.Find(`.body[dir="auto"]`).Length() == 0 {
		t.Error("message bodies lack dir=auto")
	}
	live := doc.Find("#live")
	since, liveURL := live.AttrOr("data-live-since", ""), live.AttrOr("data-live-url", "")
	if since != "$t1" || liveURL == "" {
		t.Fatalf("live: since %q url %q", since, liveURL)
	}
	// Nothing new yet: an empty fragment that keeps the position.
	frag := e.get(t, liveURL+"&after="+url.QueryEscape(since))
	if frag.Code != http.StatusOK || strings.Contains(frag.Body.String(), "<li") || frag.Header().Get("X-Live-Since") != "$t1" {
		t.Errorf("empty poll: %d %q %v", frag.Code, frag.Body.String(), frag.Header())
	}
	e.addEvents(t, msgLine("$t2", now.Add(-time.Second).UnixMilli(), `{"msgtype":"m.text","body":"new <b>one</b>"}`))
	frag = e.get(t, liveURL+"&after="+url.QueryEscape(since))
	fd, _ := goquery.NewDocumentFromReader(frag.Body)
	if ids := fd.Find("li.msg").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("id", "") }); fmt.Sprint(ids) != "[$t2]" || frag.Header().Get("X-Live-Since") != "$t2" {
		t.Errorf("poll after a new message: %v, since %q", ids, frag.Header().Get("X-Live-Since"))
	}
	// A past day has no live part.
	if e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK).Find("#live").Length() != 0 {
		t.Error("a past day polls for new messages")
	}
}

// TestStaticAnswersHEADAndRevalidates: the stylesheet and the script
// answer HEAD as GET, and the stylesheet, whose name every page has, is
// revalidated by its ETag.
func TestStaticAnswersHEADAndRevalidates(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"hi"}`)))
	doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	script := doc.Find("head script[src]").AttrOr("src", "")
	style := doc.Find(`head link[rel="stylesheet"]`).AttrOr("href", "")
	for _, path := range []string{style, script} {
		get := e.get(t, path)
		if get.Code != http.StatusOK || get.Body.Len() == 0 {
			t.Fatalf("GET %s = %d, %d bytes", path, get.Code, get.Body.Len())
		}
		rec := e.do(t, http.MethodHead, path, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("HEAD %s = %d", path, rec.Code)
		}
		for _, h := range []string{"Content-Type", "Cache-Control", "ETag"} {
			if rec.Header().Get(h) != get.Header().Get(h) {
				t.Errorf("HEAD %s: %s %q, GET's %q", path, h, rec.Header().Get(h), get.Header().Get(h))
			}
		}
	}
	// The stylesheet is named by its content and cached for good; its
	// fixed name, which pages cached before named, still answers, for an
	// hour at a time.
	if !regexp.MustCompile(`^/static/style\.[0-9a-f]{12}\.css$`).MatchString(style) || !strings.Contains(e.get(t, style).Header().Get("Cache-Control"), "immutable") {
		t.Errorf("the stylesheet is %s, cached %q", style, e.get(t, style).Header().Get("Cache-Control"))
	}
	if fixed := e.get(t, "/static/style.css"); fixed.Code != http.StatusOK || fixed.Body.String() != e.get(t, style).Body.String() || fixed.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("/static/style.css = %d, %q", fixed.Code, fixed.Header().Get("Cache-Control"))
	}
	etag := e.get(t, style).Header().Get("ETag")
	if etag == "" {
		t.Fatalf("%s has no ETag", style)
	}
	for tag, want := range map[string]int{etag: http.StatusNotModified, `"other"`: http.StatusOK} {
		if rec := e.do(t, http.MethodGet, style, map[string]string{"If-None-Match": tag}); rec.Code != want {
			t.Errorf("GET %s, If-None-Match %s = %d, want %d", style, tag, rec.Code, want)
		}
	}
}

// TestLiveSinceSurvivesFetch: archive.js continues its poll of today's
// page after the event X-Live-Since names, read with fetch's Headers.get,
// which reads a header's bytes as Latin-1. Room versions 1 and 2 let the
// homeserver choose event IDs, in any Unicode: sent raw, the ID came back
// as another, every later poll was a 400 and the page stopped updating.
// The header carries it percent-escaped, as the script decodes it
// (decodeURIComponent, here url.PathUnescape), while printable ASCII but
// '%' is sent as it is, so that a page loaded before, whose script does
// not decode, goes on after the same ID (a room version 3 ID's '/' and
// '+' too).
func TestLiveSinceSurvivesFetch(t *testing.T) {
	ids := []string{"$caf\u00e9-\u4e2d:example.org", "$p%252:example.org", "$v3/ID+with=base64", "$plain:example.org"}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$first", 1767225601000, `{"msgtype":"m.text","body":"first"}`)))
	after := "$first"
	for i, want := range ids {
		// Each the last message when it is polled for.
		e.addEvents(t, msgLine(want, 1767225602000+int64(i), `{"msgtype":"m.text","body":"later"}`))
		rec := e.get(t, "/room/!x:example.org/2026-01-01?fragment=items&after="+url.QueryEscape(after))
		if rec.Code != http.StatusOK {
			t.Fatalf("the poll after %q = %d %.300s", after, rec.Code, rec.Body)
		}
		raw := rec.Header().Get("X-Live-Since")
		var latin1 []rune // what Headers.get gives the script: a code point a byte
		for i := 0; i < len(raw); i++ {
			latin1 = append(latin1, rune(raw[i]))
		}
		got, err := url.PathUnescape(string(latin1))
		if err != nil || got != want {
			t.Errorf("X-Live-Since %q reads as %q (%v), want %q", raw, got, err, want)
		}
		if strings.Trim(want, "$:/+=.-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "" && raw != want {
			t.Errorf("X-Live-Since %q, want the ASCII ID %q as it is", raw, want)
		}
		// The next poll, after the ID as read, continues.
		after = want
		if next := e.get(t, "/room/!x:example.org/2026-01-01?fragment=items&after="+url.QueryEscape(got)); next.Code != http.StatusOK {
			t.Errorf("the poll after %q = %d, want 200", got, next.Code)
		}
	}
}
