package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A .txt URL's reader is often a script that parsed IRC-era logs: an error
// there is text saying what went wrong, not an HTML page, as the API's are
// JSON.
func TestTextLogErrorsAreText(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, msgLine("$m", 1767225605000, `{"msgtype":"m.text","body":"hi"}`)))
	for path, code := range map[string]int{
		"/room/!x:example.org/2026-13-45.txt":       http.StatusBadRequest,
		"/room/nosuch:example.org/2026-01-01.txt":   http.StatusNotFound,
		"/room/!x:example.org/meeting/$nosuch.txt":  http.StatusNotFound,
		"/room/!x:example.org/2026-01-01.txt?x=%ff": http.StatusOK,
	} {
		rec := e.get(t, path)
		ct := rec.Header().Get("Content-Type")
		if rec.Code != code || !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET %s = %d %s, want %d text/plain:\n%.300s", path, rec.Code, ct, code, rec.Body)
			continue
		}
		if code != http.StatusOK {
			if body := rec.Body.String(); !strings.HasPrefix(body, http.StatusText(code)) && !strings.Contains(body, http.StatusText(code)+": ") || strings.Contains(body, "<") {
				t.Errorf("GET %s says %q", path, body)
			}
		}
	}
	// Pages keep their HTML errors.
	if rec := e.get(t, "/room/nosuch:example.org/2026-01-01"); !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Errorf("a page's error is %s", rec.Header().Get("Content-Type"))
	}
}
