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

// Once its index has caught up since the start, a replica stays ready
// while the index falls behind (helper-115): an import puts every
// replica's index behind the feed at once, and /readyz took them all out
// of the load balancer for the catch-up, though every page was served.
// The answer says how far behind; ?index_lag= asks for the strict check.
func TestReadyzStaysReadyWhileCatchingUp(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	var indexed atomic.Int64
	e := newEnvRender(t, st, render.New(render.Options{}), web.Options{
		IndexPosition: func() (int64, error) { return indexed.Load(), nil },
		ReadyIndexLag: 5,
	}, demoFile)
	head, err := st.FeedHead(context.Background())
	if err != nil || head <= 10 {
		t.Fatalf("feed head = %d, %v; the demo must produce more than 10 changes", head, err)
	}
	if rec := e.get(t, "/readyz?index_lag=0"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz?index_lag=0 before the index caught up = %d %q, want 503", rec.Code, rec.Body.String())
	}
	indexed.Store(head - 5)
	if rec := e.get(t, "/readyz"); rec.Code != http.StatusOK {
		t.Fatalf("/readyz with the index 5 changes behind = %d %q, want 200", rec.Code, rec.Body.String())
	}
	indexed.Store(head - 10) // as if an import had added 5 changes since
	rec := e.get(t, "/readyz")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "10 changes behind") {
		t.Errorf("/readyz, caught up before and now 10 changes behind = %d %q; want 200 saying how far behind", rec.Code, rec.Body.String())
	}
	for q, want := range map[string]int{"?index_lag=9": http.StatusServiceUnavailable, "?index_lag=10": http.StatusOK, "?index_lag=-1": http.StatusBadRequest, "?index_lag=x": http.StatusBadRequest} {
		if rec := e.get(t, "/readyz"+q); rec.Code != want {
			t.Errorf("/readyz%s with the index 10 changes behind = %d %q; want %d", q, rec.Code, rec.Body.String(), want)
		}
	}
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
