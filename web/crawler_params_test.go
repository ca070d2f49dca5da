package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// Parameters a crawler or a hostile client may send, each refused with a
// 400 that says what is wrong, or taken as it is meant (helper-94's
// review): the directory's filter is shown back in its page, which says
// it is UTF-8, and is at most 200 characters, not bytes; an hour is two
// digits; a meeting is named by the event ID of its #startmeeting, so a
// name that is none is bad syntax, as it is for /event/ and /thread/.
func TestHostileParametersAreRefusedClearly(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	for path, want := range map[string]int{
		"/?q=%ff%fe": http.StatusBadRequest,
		"/?q=" + url.QueryEscape(strings.Repeat("é", 200)): http.StatusOK,
		"/?q=" + url.QueryEscape(strings.Repeat("é", 201)): http.StatusBadRequest,
		"/room/" + demoSlug + "/2026-03-03?hour=-0":        http.StatusBadRequest,
		"/room/" + demoSlug + "/2026-03-03?hour=+1":        http.StatusBadRequest,
		"/room/" + demoSlug + "/2026-03-03?hour=01":        http.StatusOK,
		"/room/" + demoSlug + "/meeting/nodollar":          http.StatusBadRequest,
		"/room/" + demoSlug + "/meeting/%ff":               http.StatusBadRequest,
		"/room/" + demoSlug + "/meeting/nodollar.txt":      http.StatusBadRequest,
		"/api/v1/rooms/" + demoRoom + "/meetings/nodollar": http.StatusBadRequest,
		"/room/" + demoSlug + "/meeting/$nosuchevent":      http.StatusNotFound,
	} {
		rec := e.get(t, path)
		if rec.Code != want {
			t.Errorf("GET %s = %d; want %d", path, rec.Code, want)
		}
		if body := rec.Body.String(); !strings.Contains(rec.Header().Get("Content-Type"), "json") && strings.ToValidUTF8(body, "") != body {
			t.Errorf("GET %s: the page is not UTF-8", path)
		}
	}
}

// A script's errors (helper-98): a feed's or a sitemap's is text, not a
// page of the site, as a text log's is; and a search in a room the archive
// does not have is a 400 whether the room is named by alias or by ID,
// where a mistyped ID read as a search without matches.
func TestScriptErrorsAreClear(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m1", 1767225700000, `{"msgtype":"m.text","body":"kumquat"}`)))
	e.withSearch(t)
	for _, path := range []string{"/room/!nope:example.org/feed.atom", "/room/!nope:example.org/meetings.atom", "/search/feed.atom?q=hi&sort=oldest", "/sitemap/!nope:example.org.xml"} {
		rec := e.do(t, http.MethodGet, path, map[string]string{"Accept": "application/atom+xml"})
		if ct := rec.Header().Get("Content-Type"); rec.Code < 400 || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET %s = %d, %q; want an error in plain text", path, rec.Code, ct)
		}
	}
	for _, in := range []string{"%21nope:example.org", "%23nope:example.org"} {
		var got struct {
			Error string `json:"error"`
		}
		decode(t, e.get(t, "/api/v1/search?q=kumquat&in="+in), http.StatusBadRequest, &got)
		if !strings.Contains(got.Error, "no room") {
			t.Errorf("in=%s: %q; want that the archive has no such room", in, got.Error)
		}
	}
	var found struct {
		Results []struct {
			EventID string `json:"event_id"`
		} `json:"results"`
	}
	decode(t, e.get(t, "/api/v1/search?q=kumquat&in=%21x:example.org"), http.StatusOK, &found)
	if len(found.Results) != 1 {
		t.Errorf("a search in the room finds %d messages; want 1", len(found.Results))
	}
	// A route the API has, asked with a method it has not: the Matrix
	// spec's answer is M_UNRECOGNIZED with a 405, as a client library
	// tells "wrong method" from "bad parameters" by it.
	var wrong struct {
		ErrCode string `json:"errcode"`
	}
	rec := e.do(t, http.MethodPost, "/api/v1/rooms", nil)
	decode(t, rec, http.StatusMethodNotAllowed, &wrong)
	if wrong.ErrCode != "M_UNRECOGNIZED" {
		t.Errorf("POST /api/v1/rooms: errcode %q; want M_UNRECOGNIZED", wrong.ErrCode)
	}
}

// ?in= names one room: the search form's room, or a day page's "search
// this room". Its value was appended to the query as "in:" and the rest,
// so a space in it added words, exclusions and filters of its own (a
// link's ?in=!x:example.org%20-kumquat searched the room for nothing and
// answered 200 with no results).
func TestSearchInTakesOneRoom(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m1", 1767225700000, `{"msgtype":"m.text","body":"kumquat"}`)))
	e.withSearch(t)
	for _, in := range []string{"%21x:example.org%20-kumquat", "%21x:example.org%20from:@nobody:example.org", "%21x:example.org%09in:%21y:example.org", "%22%21x:example.org%20kumquat%22"} {
		var got struct {
			Error string `json:"error"`
		}
		decode(t, e.get(t, "/api/v1/search?q=kumquat&in="+in), http.StatusBadRequest, &got)
		if !strings.Contains(got.Error, "one room") {
			t.Errorf("in=%s: %q; want that ?in= takes one room", in, got.Error)
		}
	}
	var found struct {
		Results []struct {
			EventID string `json:"event_id"`
		} `json:"results"`
	}
	decode(t, e.get(t, "/api/v1/search?q=kumquat&in=%20%21x:example.org%20"), http.StatusOK, &found)
	if len(found.Results) != 1 {
		t.Errorf("a search in the room, its ID between spaces, finds %d messages; want 1", len(found.Results))
	}
}

// A link with a slash at its end, as wikis and mail clients sometimes
// make them, leads to the page without it, its query kept: the day page
// was a 400 and the rest 404s. A path that would then name another host
// (//evil.example/) stays a 404, no redirect at all (a backslash goes
// out escaped, /%5Cevil.example, a path).
func TestTrailingSlashLeadsToThePage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	for path, want := range map[string]string{
		"/room/" + demoSlug + "/2026-03-03/":        "/room/" + demoSlug + "/2026-03-03",
		"/room/" + demoSlug + "/2026-03-03.txt//":   "/room/" + demoSlug + "/2026-03-03.txt",
		"/room/" + demoSlug + "/":                   "/room/" + demoSlug,
		"/search/?q=hi&in=x":                        "/search?q=hi&in=x",
		"/api/v1/rooms/":                            "/api/v1/rooms",
		"/room/" + demoSlug + "/event/%24a%2Fb%2F/": "/room/" + demoSlug + "/event/%24a%2Fb%2F",
		"/\\evil.example/":                          "/%5Cevil.example",
	} {
		rec := e.get(t, path)
		if rec.Code != http.StatusMovedPermanently || rec.Header().Get("Location") != want {
			t.Errorf("GET %s = %d to %q; want 301 to %q", path, rec.Code, rec.Header().Get("Location"), want)
			continue
		}
		if rec := e.get(t, want); rec.Code == http.StatusMovedPermanently {
			t.Errorf("GET %s (from %s) = %d to %q; want no second 301", want, path, rec.Code, rec.Header().Get("Location"))
		}
	}
	for _, path := range []string{"//evil.example/", "///evil.example//", "///"} {
		if rec := e.get(t, path); rec.Code != http.StatusNotFound || rec.Header().Get("Location") != "" {
			t.Errorf("GET %s = %d to %q; want a 404", path, rec.Code, rec.Header().Get("Location"))
		}
	}
}
