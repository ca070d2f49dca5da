package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The archiver's /readyz fails while the homeserver does not answer
// /versions, probes it at most once per interval however often it is
// asked, and /healthz stays alive throughout.
func TestArchiverReadyz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var up atomic.Bool
		var probes atomic.Int64
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			probes.Add(1)
			if r.URL.Path != "/_matrix/client/versions" || !up.Load() {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			w.Write([]byte(`{"versions":["v1.11"]}`))
		}))
		defer hs.Close()
		now := time.Unix(1_800_000_000, 0)
		h := newHealth(st, hs.URL, time.Minute, storetest.Logger(t))
		h.now = func() time.Time { return now }
		app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "appservice", http.StatusTeapot) })
		srv := h.wrap(app)
		get := func(path string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			return rec
		}
		if rec := get("/healthz"); rec.Code != http.StatusOK {
			t.Errorf("/healthz = %d", rec.Code)
		}
		rec := get("/readyz")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "homeserver") {
			t.Errorf("/readyz with the homeserver down = %d %q, want 503 naming the homeserver", rec.Code, rec.Body.String())
		}
		up.Store(true)
		// Cached: the failed probe stands until the interval passes.
		if rec := get("/readyz"); rec.Code != http.StatusServiceUnavailable || probes.Load() != 1 {
			t.Errorf("/readyz within the interval = %d after %d probes, want the cached 503 after 1", rec.Code, probes.Load())
		}
		now = now.Add(time.Minute + time.Second)
		if rec := get("/readyz"); rec.Code != http.StatusOK {
			t.Errorf("/readyz with the homeserver back = %d %q, want 200", rec.Code, rec.Body.String())
		}
		// While the archiver lock's session is replaced (lock.Held).
		held := false
		h.lockHeld = func() bool { return held }
		if rec := get("/readyz"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "archiver lock") {
			t.Errorf("/readyz with the lock not held = %d %q, want 503 naming the lock", rec.Code, rec.Body.String())
		}
		held = true
		if rec := get("/readyz"); rec.Code != http.StatusOK {
			t.Errorf("/readyz with the lock held again = %d %q, want 200", rec.Code, rec.Body.String())
		}
		// Everything else still reaches the appservice.
		if rec := get("/_matrix/app/v1/transactions/1"); rec.Code != http.StatusTeapot {
			t.Errorf("appservice path = %d, want the appservice's answer", rec.Code)
		}
		st.Close()
		rec = get("/readyz")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "database") {
			t.Errorf("/readyz with the database closed = %d %q, want 503 naming the database", rec.Code, rec.Body.String())
		}
		if rec := get("/healthz"); rec.Code != http.StatusOK {
			t.Errorf("/healthz with the database closed = %d, want 200 (alive)", rec.Code)
		}
	})
}
