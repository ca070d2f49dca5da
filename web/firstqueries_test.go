package web_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
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
			{"/room/!x:example.org/2026-01-01", 8},
			// The day's relations in one query, not one per 500 IDs.
			{"/room/!x:example.org/2026-01-01.txt", 5},
			{"/api/v1/rooms/!x:example.org/events?date=2026-01-01", 5},
			{"/room/!x:example.org/event/$m700", 8},
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

// TestViaRefreshedAfterResponse: a room's via servers past their time
// are computed anew after the response of the request that found them
// so (which reads every member event of the room: 0.4 s in a busy IRC
// channel), so that request is answered with the servers known, and the
// next ones get the new ones.
func TestViaRefreshedAfterResponse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t,
			msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"hello"}`)))
		now := time.Now()
		e.srv.SetNow(func() time.Time { return now })
		const page, newVia = "/room/!x:example.org/event/$m", "via=other.example"
		if body := e.get(t, page).Body.String(); strings.Contains(body, newVia) {
			t.Fatalf("before the joins the page has %s", newVia)
		}
		var joins []string
		for i := range 5 {
			u := fmt.Sprintf("@u%d:other.example", i)
			joins = append(joins, fmt.Sprintf(`{"event_id":"$j%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":"join"}}`,
				i, u, 1767225602000+int64(i), u))
		}
		importFiles(t, st, ingest.ImportOptions{}, writeRoomFile(t, joins...))
		now = now.Add(6 * time.Minute)
		if body := e.get(t, page).Body.String(); strings.Contains(body, newVia) {
			t.Errorf("the request that found the via servers out of date waited for them (%s)", newVia)
		}
		if body := e.get(t, page).Body.String(); !strings.Contains(body, newVia) {
			t.Errorf("the via servers were not computed anew after that request: no %s", newVia)
		}
	})
}

// TestWarmViaComputesRoomsAhead: after WarmVia, a room's first page reads
// no member events (its via servers are known), where without it the
// first page reads them: one query fewer, on both databases.
func TestWarmViaComputesRoomsAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20}, memberDay(t, 0))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		first := func(srv *web.Server) int64 {
			t.Helper()
			before := count()
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/room/!x:example.org/2026-01-01", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("day page: %d", rec.Code)
			}
			return count() - before
		}
		fresh := func() *web.Server {
			srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Warm(context.Background()); err != nil {
				t.Fatal(err)
			}
			return srv
		}
		cold := first(fresh())
		warmed := fresh()
		if err := warmed.WarmVia(context.Background()); err != nil {
			t.Fatal(err)
		}
		warm := first(warmed)
		t.Logf("first day page: %d queries, %d after WarmVia", cold, warm)
		if warm >= cold {
			t.Errorf("after WarmVia the room's first page made %d queries, as many as without it (%d): its via servers were not computed ahead", warm, cold)
		}
		// A cancelled context stops it with its error.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := fresh().WarmVia(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("WarmVia with a cancelled context: %v, want context.Canceled", err)
		}
	})
}

// viaRoom is a room whose via server is other.example (its members'),
// and which has a page at /room/!x:example.org/event/$m.
func viaRoom(t *testing.T) string {
	lines := []string{msgLine("$m", 1767225601000, `{"msgtype":"m.text","body":"hello"}`)}
	for i := range 3 {
		u := fmt.Sprintf("@u%d:other.example", i)
		lines = append(lines, fmt.Sprintf(`{"event_id":"$j%d","room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":"join"}}`,
			i, u, 1767225602000+int64(i), u))
	}
	return writeRoom(t, lines...)
}

// TestViaComputedOnceAtATime: a page asked for while WarmVia computes its
// room's via servers waits for that computation instead of reading the
// room's member events again beside it (after a start, both read all of a
// busy room's member events at once). If the computation it waited for
// failed for its own context's sake (WarmVia stopped), the page computes
// them itself.
func TestViaComputedOnceAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20}, viaRoom(t))
		const page, via = "/room/!x:example.org/event/$m", "via=other.example"
		for _, stopWarm := range []bool{false, true} {
			var logged lockedBuffer
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
			srv, err := web.New(st, render.New(render.Options{}), log, web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			started, release := make(chan struct{}), make(chan struct{})
			srv.SetViaHook(func(id.RoomID) {
				if calls.Add(1) == 1 {
					close(started)
					<-release
				}
			})
			wctx, stop := context.WithCancel(context.Background())
			warmed := make(chan error, 1)
			go func() { warmed <- srv.WarmVia(wctx) }()
			<-started
			served := make(chan *httptest.ResponseRecorder, 1)
			go func() {
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, page, nil))
				served <- rec
			}()
			select {
			case <-served:
				t.Fatalf("stopWarm=%v: the page was served while WarmVia computed its via servers: it did not wait for them", stopWarm)
			case <-time.After(300 * time.Millisecond):
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("stopWarm=%v: via servers computed %d times at once, want 1", stopWarm, n)
			}
			if stopWarm {
				stop()
			}
			close(release)
			rec := <-served
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), via) {
				t.Errorf("stopWarm=%v: page %d, has %s: %v", stopWarm, rec.Code, via, strings.Contains(rec.Body.String(), via))
			}
			err = <-warmed
			stop()
			want := int32(1)
			if stopWarm {
				want = 2 // WarmVia's computation failed with its context; the page's is its own
				if !errors.Is(err, context.Canceled) {
					t.Errorf("stopped WarmVia: %v, want context.Canceled", err)
				}
			} else if err != nil {
				t.Errorf("WarmVia: %v", err)
			}
			if n := calls.Load(); n != want {
				t.Errorf("stopWarm=%v: via servers computed %d times, want %d", stopWarm, n, want)
			}
			// The page's via servers were its own computation's, not a
			// failure taken over from WarmVia's.
			if strings.Contains(logged.String(), "computing via servers") {
				t.Errorf("stopWarm=%v: a via computation failed for the page:\n%s", stopWarm, logged.String())
			}
		}
	})
}

// lockedBuffer collects a log written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
