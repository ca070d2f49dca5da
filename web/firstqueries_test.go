package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		// The day's 1,003 events fit in one read: its text log is read
		// whole (a busier day's is streamed, TestBusyDayTextLogStreams).
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, DayPageSize: 500, APIDayPageSize: 2000}, memberDay(t, 0))
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
			// And two weighing the events before it and their relations,
			// for the link to the day's page that holds it
			// (store.OnFirstDayPage, store.RelatedInUpTo).
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

// TestWarmAnswersTheLatestDays: WarmPages answers the latest day's page
// and JSON day of the most recently active rooms, so that the pool's
// connections have run a page's statements once (on PostgreSQL every
// one of them, through store.WarmReads), and keeps them in the render
// cache: a reader's first request for them then makes only the
// page key's queries, fewer than the same kind of page of a day
// WarmPages did not answer, asked after the process's first page.
func TestWarmAnswersTheLatestDays(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a, b := storetest.Twins(t, dialect, store.Options{ReadMostly: true}) // b as archive-web opens it
			var lines []string
			for i := range 300 {
				// 2026-01-01 to 2026-01-03, the latest day.
				lines = append(lines, msgLine(fmt.Sprintf("$w%d", i), 1767225601000+int64(i/100)*86400000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
			}
			newEnvRender(t, a, render.New(render.Options{}), cacheOn, writeRoom(t, lines...))
			srv, err := web.New(b, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Warm(context.Background()); err != nil {
				t.Fatal(err)
			}
			warmed, err := srv.WarmPages(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// On PostgreSQL the pages' reads then ran on each of the
			// connections Warm opened, and any other the pool held
			// (store.TestWarmReadsReadiesEveryConnection looks inside
			// the sessions); SQLite has nothing to warm.
			if want := 4; dialect == "postgres" && warmed < want {
				t.Errorf("WarmPages warmed %d connections with the pages' reads, want at least %d", warmed, want)
			} else if dialect == "sqlite" && warmed != 0 {
				t.Errorf("WarmPages warmed %d SQLite connections, want none", warmed)
			}
			count, err := b.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			queries := func(path string) int64 {
				before := count()
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					t.Fatalf("GET %s = %d", path, rec.Code)
				}
				n := count() - before
				t.Logf("%s: %d queries", path, n)
				return n
			}
			queries("/room/!x:example.org/2026-01-01") // what the process's first page pays for
			for _, kind := range []string{"/room/!x:example.org/%s", "/api/v1/rooms/!x:example.org/events?date=%s"} {
				unanswered := queries(fmt.Sprintf(kind, "2026-01-02"))
				if n := queries(fmt.Sprintf(kind, "2026-01-03")); n >= unanswered {
					t.Errorf("after WarmPages, %s made %d queries, as many as a day it did not answer (%d)", fmt.Sprintf(kind, "2026-01-03"), n, unanswered)
				}
			}
		})
	}
}

// TestViaRefreshedAfterResponse: a room's via servers past their time
// are computed anew after the response of the request that found them
// so (which reads every member event of the room: 0.1-0.4 s in a busy
// IRC channel), so that request is answered with the servers known, and
// the next ones, once the computation is done, get the new ones.
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
		// Computed on a goroutine once that response was written.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(e.get(t, page).Body.String(), newVia) {
			if time.Now().After(deadline) {
				t.Fatalf("the via servers were not computed anew after that request: no %s", newVia)
			}
			time.Sleep(10 * time.Millisecond)
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

// TestViaComputedOnceAtATime: no page waits for its room's via servers to
// be computed from all of its member events (0.1-0.4 s for a busy IRC
// channel of the 1M replay, after a start, before WarmVia came to it): a
// room with more member events than a request reads (here 1 of 3) is
// answered at once with the creator's server, and computed after the
// response; that computation waits for WarmVia's if one runs rather than
// reading the member events again beside it, and computes them itself if
// WarmVia's failed for its own context's sake (WarmVia stopped). The next
// pages have the room's own via server. On both databases.
func TestViaComputedOnceAtATime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20}, viaRoom(t))
		const page, via = "/room/!x:example.org/event/$m", "via=other.example"
		for _, mode := range []string{"no WarmVia", "WarmVia", "WarmVia stopped"} {
			var logged lockedBuffer
			log := slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))
			srv, err := web.New(st, render.New(render.Options{}), log, web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
			if err != nil {
				t.Fatal(err)
			}
			srv.SetViaPageMembers(1)
			calls, started, release := blockFirstVia(srv)
			hs := httptest.NewServer(srv)
			client := &http.Client{Timeout: 5 * time.Second}
			get := func() string {
				t.Helper()
				res, err := client.Get(hs.URL + page)
				if err != nil {
					t.Fatalf("%s: %v (the page waited for its via servers)", mode, err)
				}
				defer res.Body.Close()
				b, err := io.ReadAll(res.Body)
				if err != nil || res.StatusCode != http.StatusOK {
					t.Fatalf("%s: page %d, %v", mode, res.StatusCode, err)
				}
				return string(b)
			}
			wctx, stop := context.WithCancel(context.Background())
			warmed := make(chan error, 1)
			if mode != "no WarmVia" {
				go func() { warmed <- srv.WarmVia(wctx) }()
				<-started
			}
			if body := get(); strings.Contains(body, via) {
				t.Errorf("%s: the first page has %s: it read all of the room's member events", mode, via)
			}
			if mode == "no WarmVia" {
				select { // computed after the response
				case <-started:
				case <-time.After(5 * time.Second):
					t.Fatalf("%s: the via servers were not computed after the first page", mode)
				}
			}
			time.Sleep(100 * time.Millisecond)
			if n := calls.Load(); n != 1 {
				t.Errorf("%s: via servers computed %d times at once, want 1", mode, n)
			}
			if mode == "WarmVia stopped" {
				stop()
			}
			close(release)
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(get(), via) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the pages never got %s", mode, via)
				}
				time.Sleep(20 * time.Millisecond)
			}
			hs.Close()
			stop()
			want := int32(1)
			switch mode {
			case "WarmVia stopped":
				want = 2 // WarmVia's computation failed with its context; the page's is its own
				if err := <-warmed; !errors.Is(err, context.Canceled) {
					t.Errorf("stopped WarmVia: %v, want context.Canceled", err)
				}
			case "WarmVia":
				if err := <-warmed; err != nil {
					t.Errorf("WarmVia: %v", err)
				}
			}
			if n := calls.Load(); n != want {
				t.Errorf("%s: via servers computed %d times, want %d", mode, n, want)
			}
			// The page's via servers were its own computation's, not a
			// failure taken over from WarmVia's.
			if strings.Contains(logged.String(), "computing via servers") {
				t.Errorf("%s: a via computation failed for the page:\n%s", mode, logged.String())
			}
		}
	})
}

// viaServer imports viaRoom into st and returns a server that has
// computed no room's via servers yet, as after a start.
func viaServer(t *testing.T, st *store.Store) *web.Server {
	t.Helper()
	newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20}, viaRoom(t))
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// blockFirstVia counts srv's computations of via servers from all member
// events; the first closes started and waits until release is closed.
func blockFirstVia(srv *web.Server) (calls *atomic.Int32, started, release chan struct{}) {
	calls = new(atomic.Int32)
	started, release = make(chan struct{}), make(chan struct{})
	srv.SetViaHook(func(id.RoomID) {
		if calls.Add(1) == 1 {
			close(started)
			<-release
		}
	})
	return calls, started, release
}

// TestSmallRoomFirstPageHasItsVia: a room with no more member events than
// a request reads gets its own via servers on its first page, without
// waiting for WarmVia's computation of them and without one of its own.
func TestSmallRoomFirstPageHasItsVia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := viaServer(t, st)
		calls, started, release := blockFirstVia(srv)
		warmed := make(chan error, 1)
		go func() { warmed <- srv.WarmVia(context.Background()) }()
		select {
		case <-started:
		case err := <-warmed:
			t.Fatalf("WarmVia returned (%v) without computing the room's via servers", err)
		}
		served := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/room/!x:example.org/event/$m", nil))
			served <- rec
		}()
		waited := false
		select {
		case rec := <-served:
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "via=other.example") {
				t.Errorf("first page: %d, has via=other.example: %v", rec.Code, strings.Contains(rec.Body.String(), "via=other.example"))
			}
		case <-time.After(5 * time.Second):
			t.Error("the first page waited for WarmVia's computation")
			waited = true
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("via servers computed %d times from all member events, want 1 (WarmVia's)", n)
		}
		close(release)
		if err := <-warmed; err != nil {
			t.Errorf("WarmVia: %v", err)
		}
		if waited {
			<-served
		}
	})
}

// TestWarmViaYieldsToRequests: WarmVia computes no room's via servers
// while a request is being answered, nor right after one, so the first
// pages after a start do not share the machine with it; once the server
// is quiet it computes them.
func TestWarmViaYieldsToRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		srv := viaServer(t, st)
		var calls atomic.Int32
		srv.SetViaHook(func(id.RoomID) { calls.Add(1) })
		done := srv.HoldRequest()
		warmed := make(chan error, 1)
		go func() { warmed <- srv.WarmVia(context.Background()) }()
		time.Sleep(300 * time.Millisecond)
		if n := calls.Load(); n != 0 {
			t.Errorf("WarmVia computed %d rooms' via servers while a request was being answered", n)
		}
		done()
		select {
		case err := <-warmed:
			if err != nil {
				t.Fatalf("WarmVia: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WarmVia did not go on once the request was answered")
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("WarmVia computed %d rooms' via servers, want 1", n)
		}
		// A cancelled context stops it while it waits.
		ctx, cancel := context.WithCancel(context.Background())
		fresh, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example"})
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.HoldRequest()()
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		if err := fresh.WarmVia(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("WarmVia waiting for a quiet moment, its context cancelled: %v, want context.Canceled", err)
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
