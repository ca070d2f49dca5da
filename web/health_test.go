package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// /readyz is ready only while the index is within ReadyIndexLag changes of
// the feed: a replica still catching up must not get readers' searches.
func TestReadyzFollowsIndexLag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var indexed atomic.Int64
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{
			IndexPosition: func() (int64, error) { return indexed.Load(), nil },
			ReadyIndexLag: 5,
		}, demoFile)
		head, err := st.FeedHead(context.Background())
		if err != nil || head <= 5 {
			t.Fatalf("feed head = %d, %v; the demo must produce more than 5 changes", head, err)
		}
		if rec := e.get(t, "/healthz"); rec.Code != http.StatusOK {
			t.Errorf("/healthz = %d, want 200 (alive)", rec.Code)
		}
		rec := e.get(t, "/readyz")
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "index") {
			t.Errorf("/readyz with the index %d changes behind = %d %q, want 503 naming the index", head, rec.Code, rec.Body.String())
		}
		indexed.Store(head - 5)
		if rec := e.get(t, "/readyz"); rec.Code != http.StatusOK {
			t.Errorf("/readyz with the index 5 changes behind = %d %q, want 200", rec.Code, rec.Body.String())
		}
		if rec := e.get(t, "/readyz"); rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("/readyz may be cached: %q", rec.Header().Get("Cache-Control"))
		}
	})
}

// /healthz says the process is alive even while the database is down, so
// a supervisor does not restart every replica during a database outage;
// /readyz says it cannot serve.
func TestHealthzAliveReadyzNotWithDatabaseDown(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(context.Background(), store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := newEnv(t, st, demoFile)
	if rec := e.get(t, "/readyz"); rec.Code != http.StatusOK {
		t.Fatalf("/readyz before the outage = %d %q", rec.Code, rec.Body.String())
	}
	pgtest.SetConnections(t, dsn, false)
	if rec := e.get(t, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("/healthz with the database down = %d, want 200", rec.Code)
	}
	rec := e.get(t, "/readyz")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "database") {
		t.Errorf("/readyz with the database down = %d %q, want 503 naming the database", rec.Code, rec.Body.String())
	}
}
