package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// htmlPages are the keyed HTML pages of cacheRoom's day: the day page and
// a permalink.
var htmlPages = []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org/event/$m"}

// TestRepeatedPageNotLoaded: with the render cache on, the HTML day page
// and a permalink asked for again are answered from their page keys
// without loading the day, the day page in one query: the room's row,
// where it stands (its feed position, sync state, imported predecessor)
// and where screening stands, read together (store.RoomToRead; they were
// three queries, each a round trip on PostgreSQL); a permalink first
// reads and screens its event, then the room with its state. A
// conditional request is answered the same way.
func TestRepeatedPageNotLoaded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{CacheBytes: 8 << 20, DayPageSize: 1000, APIDayPageSize: 1000}, memberDay(t, 0))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path string
			max  int64
		}{{"/room/!x:example.org/2026-01-01", 1}, {"/room/!x:example.org/event/$m500", 3}} {
			before := count()
			first := e.get(t, c.path)
			loaded := count() - before
			before = count()
			again := e.get(t, c.path)
			repeated := count() - before
			t.Logf("%s: %d queries the first time, %d again", c.path, loaded, repeated)
			if first.Code != http.StatusOK || again.Code != http.StatusOK || again.Body.String() != first.Body.String() || again.Header().Get("ETag") != first.Header().Get("ETag") {
				t.Fatalf("GET %s: %d then %d, bodies or ETags differ", c.path, first.Code, again.Code)
			}
			if repeated > c.max {
				t.Errorf("GET %s again: %d queries, want at most %d", c.path, repeated, c.max)
			}
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("If-None-Match", first.Header().Get("ETag"))
			before = count()
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified || count()-before > c.max {
				t.Errorf("conditional GET %s = %d after %d queries", c.path, rec.Code, count()-before)
			}
		}
	})
}

// pageTwiceThenAfter asks for each HTML page twice (the second from its
// key, once keyed), checks before on the second answer, runs change, and
// returns the pages asked for again.
func pageTwiceThenAfter(t *testing.T, e *env, before func(path, body string), change func()) map[string]string {
	t.Helper()
	for range 2 {
		for _, p := range htmlPages {
			rec := e.get(t, p)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", p, rec.Code)
			}
			before(p, rec.Body.String())
		}
	}
	change()
	after := map[string]string{}
	for _, p := range htmlPages {
		after[p] = e.get(t, p).Body.String()
	}
	return after
}

// TestCachedPageFollowsSyncState: the archiver finding it cannot read back
// to the room's creation (sync state, which feeds no change) is on the
// next day page and permalink.
func TestCachedPageFollowsSyncState(t *testing.T) {
	const note = "earlier messages were not archived"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		after := pageTwiceThenAfter(t, e, func(p, body string) {
			if strings.Contains(body, note) {
				t.Fatalf("before the sync state %s says %q", p, note)
			}
		}, func() {
			if err := st.SetRoomSync(context.Background(), store.RoomSync{RoomID: "!x:example.org",
				CompleteFrom: time.UnixMilli(1767225600500).UTC()}); err != nil {
				t.Fatal(err)
			}
		})
		for p, body := range after {
			if !strings.Contains(body, note) {
				t.Errorf("after the sync state %s does not say %q", p, note)
			}
		}
	})
}

// TestCachedPageFollowsTheDate: a day page cached as today's (with its
// live updates) is not today's the next day, and a permalink's citation
// gives the day it is read as its access date.
func TestCachedPageFollowsTheDate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		var now atomic.Int64
		now.Store(time.Date(2026, 1, 1, 23, 59, 0, 0, time.UTC).UnixMilli())
		e.srv.SetNow(func() time.Time { return time.UnixMilli(now.Load()) })
		after := pageTwiceThenAfter(t, e, func(p, body string) {
			if p == htmlPages[0] && !strings.Contains(body, "data-live-url") {
				t.Fatalf("on the day itself the day page is not live:\n%.3000s", body)
			}
			if p == htmlPages[1] && !strings.Contains(body, "access-date=2026-01-01") {
				t.Fatalf("on the day itself the permalink's access date is not that day:\n%.3000s", body)
			}
		}, func() { now.Add(int64(2 * time.Minute / time.Millisecond)) })
		if strings.Contains(after[htmlPages[0]], "data-live-url") {
			t.Errorf("the next day the day page is still live")
		}
		if !strings.Contains(after[htmlPages[1]], "access-date=2026-01-02") {
			t.Errorf("the next day the permalink's access date is not the next day")
		}
	})
}

// TestCachedPageExpiresWithTime: a message whose room's max_lifetime runs
// out while nothing is written leaves the day page asked for again, and
// its permalink is gone.
func TestCachedPageExpiresWithTime(t *testing.T) {
	storetest.EachWith(t, store.Options{Retention: retention.Policy{Enabled: true}}, func(t *testing.T, st *store.Store) {
		const msgTS = 1767225601000
		const margin = 3 * time.Second
		lifetime := time.Now().Add(margin).UnixMilli() - msgTS
		deadline := time.Now().Add(margin)
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t,
			msgLine("$m", msgTS, `{"msgtype":"m.text","body":"alphaword here"}`),
			retentionLine(1767225602000, lifetime)))
		after := pageTwiceThenAfter(t, e, func(p, body string) {
			if !strings.Contains(body, "alphaword") {
				t.Fatalf("before its expiry %s does not show the message", p)
			}
		}, func() {
			if time.Now().After(deadline) {
				t.Fatal("the setup outlived the message's lifetime; nothing was tested")
			}
			time.Sleep(time.Until(deadline) + 200*time.Millisecond)
		})
		for p, body := range after {
			if strings.Contains(body, "alphaword") {
				t.Errorf("after its expiry %s still shows the message", p)
			}
		}
	})
}

// TestCachedPageFollowsMedia: a file fetched after the day page and the
// permalink were cached (which feeds no change) is on both the next time.
func TestCachedPageFollowsMedia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newMediaEnvOpts(t, st, writeRoom(t,
			msgLine("$m", 1767225602000, `{"msgtype":"m.image","body":"wait.png","url":"mxc://example.org/wait"}`)), cacheOn)
		const stored = "/media/example.org/wait"
		after := pageTwiceThenAfter(t, e.env, func(p, body string) {
			if strings.Contains(body, stored) {
				t.Fatalf("before the fetch %s shows %q", p, stored)
			}
		}, func() { e.fetch(t, "mxc://example.org/wait", testPNG) })
		for p, body := range after {
			if !strings.Contains(body, stored) {
				t.Errorf("after the fetch %s does not show %q", p, stored)
			}
		}
	})
}

// otherRoom writes a small world-readable room of its own, whose create
// event names !x:example.org as its predecessor: the tests' tombstones in
// !x name such rooms, and an upgrade is one only when both rooms say so.
func otherRoom(t *testing.T, room string) string {
	t.Helper()
	var lines []string
	for i, ev := range []string{
		`"type":"m.room.create","state_key":"","content":{"room_version":"10","predecessor":{"room_id":"!x:example.org"}}`,
		`"type":"m.room.history_visibility","state_key":"","content":{"history_visibility":"world_readable"}`,
		`"type":"m.room.message","content":{"msgtype":"m.text","body":"over there"}`,
	} {
		lines = append(lines, fmt.Sprintf(`{"event_id":"$%s-%d","room_id":%q,"sender":"@a:example.org","origin_server_ts":%d,%s}`,
			strings.TrimSuffix(strings.TrimPrefix(room, "!"), ":example.org"), i, room, 1767225500000+int64(i), ev))
	}
	p := t.TempDir() + "/other.ndjson"
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCachedPageFollowsLinkedRooms: the rooms a page links to (the
// predecessor in the day page's header, the successor an earlier
// tombstone names in its timeline) leave the cached day page and
// permalink once hidden.
func TestCachedPageFollowsLinkedRooms(t *testing.T) {
	for _, c := range []struct{ name, room string }{{"predecessor", "!p:example.org"}, {"tombstone successor", "!y:example.org"}} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				main := writeRoom(t, append(cacheRoom(),
					// Two tombstones: the room's successor is !z, so !y is
					// linked only from the first one's line. Its predecessor
					// is the IRC import !p (predecessorRoom).
					`{"event_id":"$ty","room_id":"!x:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767225603000,"state_key":"","content":{"replacement_room":"!y:example.org","body":"moved"}}`,
					`{"event_id":"$tz","room_id":"!x:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767225604000,"state_key":"","content":{"replacement_room":"!z:example.org","body":"moved again"}}`)...)
				e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, main, otherRoom(t, "!y:example.org"), otherRoom(t, "!z:example.org"), predecessorRoom(t))
				link := "/room/" + c.room
				// Only the day page's header links to the predecessor.
				pages := htmlPages[:1]
				if c.name == "tombstone successor" {
					pages = []string{htmlPages[0], "/room/!x:example.org/event/$ty"}
				}
				for range 2 {
					for _, p := range pages {
						if body := e.get(t, p).Body.String(); !strings.Contains(body, link) {
							t.Fatalf("before hiding %s, %s does not link to it:\n%.4000s", c.room, p, body)
						}
					}
				}
				if err := st.HideRoom(context.Background(), id.RoomID(c.room), true, "operator"); err != nil {
					t.Fatal(err)
				}
				for _, p := range pages {
					if body := e.get(t, p).Body.String(); strings.Contains(body, link) {
						t.Errorf("after hiding %s, %s still links to it", c.room, p)
					}
				}
			})
		})
	}
}

// predecessorRoom is an IRC-imported room !p whose tombstone names !x: the
// predecessor the header of !x links to.
func predecessorRoom(t *testing.T) string {
	t.Helper()
	lines := []string{
		`{"event_id":"$irc-pc","room_id":"!p:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225400000,"state_key":"","content":{"room_version":"10"}}`,
		`{"event_id":"$irc-ph","room_id":"!p:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225400001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
		`{"event_id":"$irc-pm","room_id":"!p:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":1767225400002,"content":{"msgtype":"m.text","body":"old times"}}`,
		`{"event_id":"$irc-pt","room_id":"!p:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767225400003,"state_key":"","content":{"replacement_room":"!x:example.org","body":"moved"}}`,
	}
	p := t.TempDir() + "/pred.ndjson"
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOtherRoomsKeepPageKeys: a message in another room leaves every
// keyed page of this one answered from its key, as few queries as before
// and with the same ETag; a message in this room does not.
func TestOtherRoomsKeepPageKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...), otherRoom(t, "!o:example.org"))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		paths := map[string]int64{htmlPages[0]: 3, htmlPages[1]: 5, "/room/!x:example.org/2026-01-01.txt": 3,
			"/api/v1/rooms/!x:example.org/events?date=2026-01-01": 3}
		etags := map[string]string{}
		for range 2 {
			for p := range paths {
				etags[p] = e.get(t, p).Header().Get("ETag")
			}
		}
		e.addEvents(t, `{"event_id":"$o-new","room_id":"!o:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":1767225700000,"content":{"msgtype":"m.text","body":"elsewhere"}}`)
		for p, max := range paths {
			before := count()
			rec := e.get(t, p)
			if n := count() - before; n > max || rec.Header().Get("ETag") != etags[p] {
				t.Errorf("after a message in another room GET %s: %d queries (want at most %d), ETag %s then %s", p, n, max, etags[p], rec.Header().Get("ETag"))
			}
		}
		e.addEvents(t, zLine("$new", "m.room.message", 3000, aUser, nil, `{"msgtype":"m.text","body":"newword here"}`))
		for p := range paths {
			if body := e.get(t, p).Body.String(); p != htmlPages[1] && !strings.Contains(body, "newword") {
				t.Errorf("after a message in this room %s does not show it", p)
			}
		}
	})
}

// TestCachedPageFollowsLinkedRoomAddress: a linked room given an address
// (its canonical alias: a change of that room alone) is linked there by
// the cached day page and permalink that link to it.
func TestCachedPageFollowsLinkedRoomAddress(t *testing.T) {
	for _, c := range []struct{ name, room, alias string }{
		{"predecessor", "!p:example.org", "#oldp:example.org"}, {"tombstone successor", "!y:example.org", "#newy:example.org"}} {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				main := writeRoom(t, append(cacheRoom(),
					`{"event_id":"$ty","room_id":"!x:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767225603000,"state_key":"","content":{"replacement_room":"!y:example.org","body":"moved"}}`,
					`{"event_id":"$tz","room_id":"!x:example.org","type":"m.room.tombstone","sender":"@a:example.org","origin_server_ts":1767225604000,"state_key":"","content":{"replacement_room":"!z:example.org","body":"moved again"}}`)...)
				e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, main, otherRoom(t, "!y:example.org"), otherRoom(t, "!z:example.org"), predecessorRoom(t))
				pages := htmlPages[:1]
				if c.name == "tombstone successor" {
					pages = []string{htmlPages[0], "/room/!x:example.org/event/$ty"}
				}
				for range 2 {
					for _, p := range pages {
						if body := e.get(t, p).Body.String(); !strings.Contains(body, "/room/"+c.room) {
							t.Fatalf("%s does not link to %s:\n%.4000s", p, c.room, body)
						}
					}
				}
				e.addEvents(t, fmt.Sprintf(`{"event_id":"$alias-%s","room_id":%q,"type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225700000,"state_key":"","content":{"alias":%q}}`,
					c.alias[1:4], c.room, c.alias))
				for _, p := range pages {
					if body := e.get(t, p).Body.String(); !strings.Contains(body, "/room/"+c.alias[1:]) {
						t.Errorf("after %s took the address %s, %s does not link there", c.room, c.alias, p)
					}
				}
			})
		})
	}
}

// TestCachedThreadPageFollowsChanges: a thread's page, asked for twice
// (the second from its key, with few queries) before each kind of
// change, shows it the next time.
func TestCachedThreadPageFollowsChanges(t *testing.T) {
	ctx := context.Background()
	const thread = "/room/!x:example.org/thread/$m"
	reply := zLine("$tr", "m.room.message", 3000, zUser, nil, `{"msgtype":"m.text","body":"threadword","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}`)
	cases := []struct {
		name          string
		gone, appears string
		change        func(t *testing.T, e *env)
	}{
		{"new reply", "", "secondreply", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$tr2", "m.room.message", 4000, aUser, nil, `{"msgtype":"m.text","body":"secondreply","m.relates_to":{"rel_type":"m.thread","event_id":"$m"}}`))
		}},
		{"reply redacted", "threadword", "", func(t *testing.T, e *env) {
			e.addEvents(t, redactionLine("$r", zUser, 1767225605000, "$tr", "oops"))
		}},
		{"root edited", "alphaword", "betaword", func(t *testing.T, e *env) {
			e.addEvents(t, zLine("$ed", "m.room.message", 5000, aUser, nil,
				`{"msgtype":"m.text","body":"* betaword here","m.new_content":{"msgtype":"m.text","body":"betaword here"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
		}},
		{"replier opted out", "threadword", "", func(t *testing.T, e *env) {
			if _, err := e.st.OptOut(ctx, zUser, "operator"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, append(cacheRoom(), reply)...))
				count, err := st.CountQueries()
				if err != nil {
					t.Fatal(err)
				}
				for i := range 2 {
					before := count()
					body := e.get(t, thread).Body.String()
					// Again: the room, the root (its event, room and
					// screening), where screening and the room stand.
					if n := count() - before; i == 1 && n > 6 {
						t.Errorf("the thread page again: %d queries, want at most 6", n)
					}
					if !strings.Contains(body, "threadword") || c.gone != "" && !strings.Contains(body, c.gone) || c.appears != "" && strings.Contains(body, c.appears) {
						t.Fatalf("before the %s the thread page is wrong:\n%.4000s", c.name, body)
					}
				}
				c.change(t, e)
				body := e.get(t, thread).Body.String()
				if c.gone != "" && strings.Contains(body, c.gone) {
					t.Errorf("after the %s the thread page still shows %q", c.name, c.gone)
				}
				if c.appears != "" && !strings.Contains(body, c.appears) {
					t.Errorf("after the %s the thread page does not show %q", c.name, c.appears)
				}
			})
		})
	}
}

// TestJunkQueryShareOneKey: a crawler adding junk to ?jumped= (which the
// page ignores unless it is a date) gets the one page every such request
// shares, answered from its key, not a key per junk value.
func TestJunkQueryShareOneKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		first := e.get(t, "/room/!x:example.org/2026-01-01?jumped=junk0")
		for i := 1; i < 5; i++ {
			before := count()
			rec := e.get(t, fmt.Sprintf("/room/!x:example.org/2026-01-01?jumped=junk%d", i))
			if n := count() - before; n > 3 || rec.Body.String() != first.Body.String() {
				t.Errorf("?jumped=junk%d: %d queries, same page %v", i, n, rec.Body.String() == first.Body.String())
			}
		}
		if rec := e.get(t, "/room/!x:example.org/2026-01-01?jumped=2026-01-03"); !strings.Contains(rec.Body.String(), "2026-01-03") {
			t.Errorf("a real ?jumped= date is not on the page")
		}
	})
}
