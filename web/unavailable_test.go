package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// With the database down every route that reads it answers 503 with a
// Retry-After and says why (JSON under /api/), not 500; when the database
// returns the same server answers again by itself.
func TestDatabaseDownIs503(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnv(t, st, demoFile)
	paths := []string{
		"/",
		"/room/" + demoSlug + "/2026-03-03",
		"/room/" + demoRoom + "/2026-03-03",
		"/room/" + demoSlug + "/2026-03-03.txt",
		"/room/" + demoSlug + "/event/" + editOrig,
		"/event/" + editOrig,
		"/sitemap.xml",
		"/readyz",
		"/api/v1/rooms",
		"/api/v1/rooms/" + demoRoom + "/events?date=2026-03-03",
		"/api/v1/events/" + editOrig,
	}
	for _, p := range paths {
		if rec := e.get(t, p); rec.Code >= 400 {
			t.Fatalf("GET %s before the outage = %d", p, rec.Code)
		}
	}

	pgtest.SetConnections(t, dsn, false)
	for _, p := range paths {
		rec := e.get(t, p)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with the database down = %d, want 503; body: %.300s", p, rec.Code, rec.Body.String())
			continue
		}
		if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s <= 0 {
			t.Errorf("GET %s: Retry-After = %q, want seconds", p, rec.Header().Get("Retry-After"))
		}
		if rec.Header().Get("Cache-Control") != "no-store" && !strings.HasPrefix(p, "/api/") {
			t.Errorf("GET %s: the outage page may be cached: Cache-Control %q", p, rec.Header().Get("Cache-Control"))
		}
		body := rec.Body.String()
		if strings.HasPrefix(p, "/api/") {
			var apiErr struct{ ErrCode, Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &apiErr); err != nil || apiErr.ErrCode != "M_UNAVAILABLE" || !strings.Contains(apiErr.Error, "database") {
				t.Errorf("GET %s: body %q, want JSON M_UNAVAILABLE naming the database", p, body)
			}
		} else if !strings.Contains(body, "database") && p != "/readyz" {
			t.Errorf("GET %s: the page does not say the database is unavailable: %.500s", p, body)
		}
		if strings.Contains(body, "SQLSTATE") || strings.Contains(body, "pgtest_") {
			t.Errorf("GET %s: the driver's error leaks into the page: %.500s", p, body)
		}
	}

	pgtest.SetConnections(t, dsn, true)
	for _, p := range paths {
		if rec := e.get(t, p); rec.Code >= 400 {
			t.Errorf("GET %s after the database returned = %d, want it answered again", p, rec.Code)
		}
	}
}
