package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// TestRepeatedDayNotLoaded: with the render cache on, a text log or JSON
// day asked for again is answered from its page key without loading the
// day, in one query: the room's row, its position in the change feed and
// where screening stands, read together (store.RoomToRead; they were
// three queries, each a round trip on PostgreSQL). A conditional request
// is answered the same way.
func TestRepeatedDayNotLoaded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// The day's 1,003 events fit in one read: its text log is read
		// whole (a busier day's is streamed, TestBusyDayTextLogStreams).
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, DayPageSize: 1000, APIDayPageSize: 2000}, memberDay(t, 0))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"} {
			before := count()
			first := e.get(t, path)
			loaded := count() - before
			before = count()
			again := e.get(t, path)
			repeated := count() - before
			t.Logf("%s: %d queries the first time, %d again", path, loaded, repeated)
			if first.Code != http.StatusOK || again.Code != http.StatusOK || again.Body.String() != first.Body.String() || again.Header().Get("ETag") != first.Header().Get("ETag") {
				t.Fatalf("GET %s: %d then %d, bodies or ETags differ", path, first.Code, again.Code)
			}
			if repeated > 1 {
				t.Errorf("GET %s again: %d queries, want 1", path, repeated)
			}
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("If-None-Match", first.Header().Get("ETag"))
			before = count()
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified || count()-before > 1 {
				t.Errorf("conditional GET %s = %d after %d queries", path, rec.Code, count()-before)
			}
		}
	})
}

// TestCachedDayExpiresWithTime: a message whose room's max_lifetime runs
// out while nothing is written leaves the text log and the JSON day
// asked for again (the change feed does not say so; the clock does).
func TestCachedDayExpiresWithTime(t *testing.T) {
	storetest.EachWith(t, store.Options{Retention: retention.Policy{Enabled: true}}, func(t *testing.T, st *store.Store) {
		const msgTS = 1767225601000
		const margin = 3 * time.Second
		lifetime := time.Now().Add(margin).UnixMilli() - msgTS
		deadline := time.Now().Add(margin)
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t,
			msgLine("$m", msgTS, `{"msgtype":"m.text","body":"alphaword here"}`),
			retentionLine(1767225602000, lifetime)))
		paths := []string{"/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"}
		for range 2 {
			for _, p := range paths {
				if body := e.get(t, p).Body.String(); !strings.Contains(body, "alphaword") {
					t.Fatalf("before its expiry %s does not show the message:\n%s", p, body)
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the setup outlived the message's lifetime; nothing was tested")
		}
		time.Sleep(time.Until(deadline) + 200*time.Millisecond)
		for _, p := range paths {
			if body := e.get(t, p).Body.String(); strings.Contains(body, "alphaword") {
				t.Errorf("after its expiry %s still shows the message", p)
			}
		}
	})
}

// TestCachedDayFollowsMedia: a file fetched after the text log and JSON
// day were cached (which feeds no change) is on both the next time.
func TestCachedDayFollowsMedia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newMediaEnvOpts(t, st, writeRoom(t,
			msgLine("$wait", 1767225602000, `{"msgtype":"m.image","body":"wait.png","url":"mxc://example.org/wait"}`)), cacheOn)
		paths := map[string]string{"/room/!x:example.org/2026-01-01.txt": "/media/example.org/wait", "/api/v1/rooms/!x:example.org/events?date=2026-01-01": `"media":"stored"`}
		for range 2 {
			for p, stored := range paths {
				if body := e.get(t, p).Body.String(); strings.Contains(body, stored) {
					t.Fatalf("before the fetch %s shows %q", p, stored)
				}
			}
		}
		e.fetch(t, "mxc://example.org/wait", testPNG)
		for p, stored := range paths {
			if body := e.get(t, p).Body.String(); !strings.Contains(body, stored) {
				t.Errorf("after the fetch %s does not show %q:\n%s", p, stored, body)
			}
		}
	})
}

// TestETagsAgreeAcrossReplicas: two archive-web processes on one database
// give a page the same ETag, however far each one's copy of opt-outs and
// policies was loaded (a replica started later, after changes elsewhere),
// so a client sent to either replica still revalidates with 304; an
// opt-out still changes the ETag on both.
func TestETagsAgreeAcrossReplicas(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			a, b := storetest.Twins(t, dialect, store.Options{})
			ea := newEnvRender(t, a, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
			paths := []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/2026-01-01.txt",
				"/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/room/!x:example.org/event/$m"}
			etags := map[string]string{}
			for _, p := range paths {
				rec := ea.get(t, p)
				if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
					t.Fatalf("GET %s = %d, ETag %q", p, rec.Code, rec.Header().Get("ETag"))
				}
				etags[p] = rec.Header().Get("ETag")
			}
			// Changes in another room move the feed past where the first
			// replica loaded its copy; the second loads its own after them.
			raw, err := os.ReadFile(writeRoom(t, cacheRoom()...))
			if err != nil {
				t.Fatal(err)
			}
			other := strings.NewReplacer("!x:example.org", "!other:example.org", `"$`, `"$other`).Replace(string(raw))
			eb := newEnvRender(t, b, render.New(render.Options{}), cacheOn, writeRoomFile(t, other))
			for _, p := range paths {
				if got := eb.get(t, p).Header().Get("ETag"); got != etags[p] {
					t.Errorf("GET %s: ETag %s on one replica, %s on the other", p, etags[p], got)
				}
			}
			if _, err := b.OptOut(context.Background(), zUser, "test"); err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				for name, e := range map[string]*env{"first": ea, "second": eb} {
					if got := e.get(t, p).Header().Get("ETag"); got == etags[p] {
						t.Errorf("after an opt-out, GET %s on the %s replica kept its ETag %s", p, name, got)
					}
				}
			}
		})
	}
}

// TestETagFollowsMedia: a file fetched changes the ETag of the text log
// and the JSON day, which show what the archive holds of it (not through
// a rendered message), so a client's copy from before is not revalidated.
func TestETagFollowsMedia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newMediaEnvOpts(t, st, writeRoom(t,
			msgLine("$wait", 1767225602000, `{"msgtype":"m.image","body":"wait.png","url":"mxc://example.org/wait"}`)), cacheOn)
		paths := []string{"/room/!x:example.org/2026-01-01.txt", "/api/v1/rooms/!x:example.org/events?date=2026-01-01"}
		etags := map[string]string{}
		for _, p := range paths {
			etags[p] = e.get(t, p).Header().Get("ETag")
		}
		e.fetch(t, "mxc://example.org/wait", testPNG)
		for _, p := range paths {
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set("If-None-Match", etags[p])
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || rec.Header().Get("ETag") == etags[p] {
				t.Errorf("after the fetch, conditional GET %s = %d with ETag %s (before: %s)", p, rec.Code, rec.Header().Get("ETag"), etags[p])
			}
		}
	})
}
