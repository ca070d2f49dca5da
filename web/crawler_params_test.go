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
