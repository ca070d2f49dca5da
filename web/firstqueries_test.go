package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// TestFirstRequestQueries: a page's first request (nothing cached for it)
// looks at the change feed for opt-outs and policies once, not once per
// read (store.ScreenOnce), and reads its header's linked rooms and sync
// state once, for the page key and the page alike (headerOf).
func TestFirstRequestQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, DayPageSize: 500, APIDayPageSize: 1000}, memberDay(t, 0))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		// Warm: the process's copy of opt-outs, the room's via servers.
		if rec := e.get(t, "/room/!x:example.org/2026-01-01?hour=05"); rec.Code != http.StatusOK {
			t.Fatalf("warm-up: %d", rec.Code)
		}
		for _, c := range []struct {
			path string
			max  int64
		}{
			{"/room/!x:example.org/2026-01-01", 11},
			{"/room/!x:example.org/2026-01-01.txt", 8},
			{"/api/v1/rooms/!x:example.org/events?date=2026-01-01", 9},
			{"/room/!x:example.org/event/$m700", 10},
		} {
			before := count()
			if rec := e.get(t, c.path); rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", c.path, rec.Code)
			}
			n := count() - before
			t.Logf("%s: %d queries", c.path, n)
			if n > c.max {
				t.Errorf("GET %s: %d queries, want at most %d", c.path, n, c.max)
			}
		}
	})
}

// TestWarm: Warm, as archive-web calls it before listening, leaves the
// process's first page only its own queries (the copy of opt-outs and
// policies is loaded), and fails clearly when the database is gone.
func TestWarm(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			// a is the archiver that wrote the room; b a fresh archive-web's.
			a, b := storetest.Twins(t, dialect, store.Options{})
			newEnvRender(t, a, render.New(render.Options{}), cacheOn, memberDay(t, 0))
			srv, err := web.New(b, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			count, err := b.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Warm(context.Background()); err != nil {
				t.Fatal(err)
			}
			before := count()
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/room/!x:example.org/2026-01-01.txt", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("text log: %d", rec.Code)
			}
			if n := count() - before; n > 11 {
				t.Errorf("the first text log after Warm made %d queries, want at most 11", n)
			}
			b.Close()
			if err := srv.Warm(context.Background()); err == nil {
				t.Error("Warm on a closed store: no error")
			}
		})
	}
}
