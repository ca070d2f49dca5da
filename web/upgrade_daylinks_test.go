package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestDayLinksFollowARoomUpgrade: a room's day links use its alias
// (/room/proj:example.org/2026-01-01, ?after= on a busy day). An upgrade
// moves the alias to the new room, and once the directory confirmed it
// every day link made before named the new room: a day from before it
// existed was a 404, its text log too, and ?after= naming the old room's
// event a 400; only permalinks (by event ID) survived. Now such a link is
// sent (302) to the old room's day, by its room ID, the query kept: a day
// before the new room's first message that the old room has messages on,
// and an ?after= event of the old room on a day both rooms have messages
// on. A day neither room has stays a 404, and a room that names another
// as its predecessor, which never named it as its successor, gets none of
// its days.
func TestDayLinksFollowARoomUpgrade(t *testing.T) {
	const (
		jan1    = 1767225600000 // 2026-01-01 00:00 UTC
		jan2    = jan1 + 86400000
		upgrade = jan2 + 3600000 // 2026-01-02 01:00
	)
	state := func(evID, typ, room string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	said := func(evID, room string, ts int64, body string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"m.room.message","sender":"@a:example.org","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"` + body + `"}}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			state("$ca", "m.room.canonical_alias", "!x:example.org", jan1+3, `{"alias":"#proj:example.org"}`),
			said("$a1", "!x:example.org", jan1+1000, "we agreed on X"),
			said("$a2", "!x:example.org", jan1+2000, "and on Y"),
			said("$a3", "!x:example.org", jan2+1800000, "last words of the old room"),
		))
		if loc := e.redirect(t, "/room/!x:example.org/2026-01-01", http.StatusFound); loc != "/room/proj:example.org/2026-01-01" {
			t.Fatalf("before the upgrade the old room's days are not at its alias: %q", loc)
		}
		// The upgrade: the old room's tombstone names the new one, whose
		// m.room.create names the old one, and the alias moves.
		e.addEvents(t, state("$t", "m.room.tombstone", "!x:example.org", upgrade, `{"body":"moved","replacement_room":"!y:example.org"}`))
		e.addAtOnce(t,
			state("$c2", "m.room.create", "!y:example.org", upgrade+1, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
			state("$hv2", "m.room.history_visibility", "!y:example.org", upgrade+2, `{"history_visibility":"world_readable"}`),
			state("$ca2", "m.room.canonical_alias", "!y:example.org", upgrade+3, `{"alias":"#proj:example.org"}`),
			said("$b1", "!y:example.org", upgrade+1000, "new room"),
			// A room claiming !x's history, which !x never named.
			state("$c3", "m.room.create", "!z:example.org", upgrade+4, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
			state("$hv3", "m.room.history_visibility", "!z:example.org", upgrade+5, `{"history_visibility":"world_readable"}`),
			said("$z1", "!z:example.org", upgrade+2000, "not the successor"),
		)
		confirmAliasClaims(t, st, "!y:example.org")
		if loc := e.redirect(t, "/room/!y:example.org/2026-01-02", http.StatusFound); loc != "/room/proj:example.org/2026-01-02" {
			t.Fatalf("the alias did not move to the new room: %q", loc)
		}
		for link, want := range map[string]string{
			// A day before the new room's first message: the old room's.
			"/room/proj:example.org/2026-01-01":           "/room/!x:example.org/2026-01-01",
			"/room/proj:example.org/2026-01-01.txt":       "/room/!x:example.org/2026-01-01.txt",
			"/room/proj:example.org/2026-01-01?after=$a1": "/room/!x:example.org/2026-01-01?after=$a1",
			"/room/proj:example.org/2026-01-01?hour=00":   "/room/!x:example.org/2026-01-01?hour=00",
			"/room/proj:example.org/2026-01-02?after=$a3": "/room/!x:example.org/2026-01-02?after=$a3",
			// The JSON API's day and its cursor, as the page's.
			"/api/v1/rooms/proj:example.org/events?date=2026-01-01":           "/api/v1/rooms/!x:example.org/events?date=2026-01-01",
			"/api/v1/rooms/proj:example.org/events?date=2026-01-01&after=$a1": "/api/v1/rooms/!x:example.org/events?date=2026-01-01&after=$a1",
			"/api/v1/rooms/!y:example.org/events?after=$a3&date=2026-01-02":   "/api/v1/rooms/!x:example.org/events?after=$a3&date=2026-01-02",
		} {
			if rec := e.get(t, link); rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
				t.Errorf("GET %s after the upgrade = %d to %q, want 302 to %q", link, rec.Code, rec.Header().Get("Location"), want)
			}
		}
		// The old room's day itself, which the links lead to.
		if page := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK).Text(); !strings.Contains(page, "we agreed on X") {
			t.Errorf("the old room's day does not show its messages")
		}
		// A day both rooms have messages on is the new room's own.
		if page := e.page(t, "/room/proj:example.org/2026-01-02", http.StatusOK).Text(); !strings.Contains(page, "new room") {
			t.Errorf("the new room's own day does not show its message")
		}
		for _, p := range []string{
			"/room/proj:example.org/2025-12-31",
			"/room/proj:example.org/2025-12-31.txt",
			"/room/!z:example.org/2026-01-01", // !x never named !z
		} {
			if rec := e.get(t, p); rec.Code != http.StatusNotFound {
				t.Errorf("GET %s = %d (to %q), want 404", p, rec.Code, rec.Header().Get("Location"))
			}
		}
		// The API's answers where no upgrade leads: the new room's own day
		// and its cursor, a day no room has, a cursor of a room !y did not
		// replace.
		for p, want := range map[string]int{
			"/api/v1/rooms/proj:example.org/events?date=2026-01-02":           http.StatusOK,
			"/api/v1/rooms/proj:example.org/events?date=2026-01-02&after=$b1": http.StatusOK,
			"/api/v1/rooms/proj:example.org/events?date=2025-12-31":           http.StatusOK,
			"/api/v1/rooms/proj:example.org/events?date=2026-01-02&after=$z1": http.StatusBadRequest,
			"/api/v1/rooms/!z:example.org/events?date=2026-01-02&after=$a3":   http.StatusBadRequest,
		} {
			if rec := e.get(t, p); rec.Code != want {
				t.Errorf("GET %s = %d (to %q), want %d", p, rec.Code, rec.Header().Get("Location"), want)
			}
		}
	})
}

// upgradedProject is room !x (alias #proj, a thread at $root and a meeting
// started at $ms on 2026-01-01) upgraded to !y on 2026-01-02, the alias
// verified for !y, with the links the archive gave out by the alias before
// (threadAndMeetingLinks) checked to answer 200 then.
func upgradedProject(t *testing.T) *env {
	t.Helper()
	const (
		jan1    = 1767225600000 // 2026-01-01 00:00 UTC
		jan2    = jan1 + 86400000
		upgrade = jan2 + 3600000
	)
	state := func(evID, typ, room string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	said := func(evID, room string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"m.room.message","sender":"@a:example.org","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	st := storetest.Open(t, "sqlite")
	e := newEnv(t, st, writeRoom(t,
		state("$ca", "m.room.canonical_alias", "!x:example.org", jan1+3, `{"alias":"#proj:example.org"}`),
		said("$root", "!x:example.org", jan1+1000, `{"msgtype":"m.text","body":"shall we do X?"}`),
		said("$reply", "!x:example.org", jan1+2000, `{"msgtype":"m.text","body":"yes","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
		said("$ms", "!x:example.org", jan1+3000, `{"msgtype":"m.text","body":"#startmeeting Release sync"}`),
		said("$mx", "!x:example.org", jan1+4000, `{"msgtype":"m.text","body":"#agreed ship it"}`),
		said("$me", "!x:example.org", jan1+5000, `{"msgtype":"m.text","body":"#endmeeting"}`),
	))
	for _, l := range threadAndMeetingLinks {
		if rec := e.get(t, l); rec.Code != http.StatusOK {
			t.Fatalf("before the upgrade %s = %d %.300s", l, rec.Code, rec.Body)
		}
	}
	e.addEvents(t, state("$t", "m.room.tombstone", "!x:example.org", upgrade, `{"body":"moved","replacement_room":"!y:example.org"}`))
	e.addAtOnce(t,
		state("$c2", "m.room.create", "!y:example.org", upgrade+1, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
		state("$hv2", "m.room.history_visibility", "!y:example.org", upgrade+2, `{"history_visibility":"world_readable"}`),
		state("$ca2", "m.room.canonical_alias", "!y:example.org", upgrade+3, `{"alias":"#proj:example.org"}`),
		said("$b1", "!y:example.org", upgrade+1000, `{"msgtype":"m.text","body":"new room"}`),
	)
	confirmAliasClaims(t, st, "!y:example.org")
	if loc := e.redirect(t, "/room/!y:example.org/2026-01-02", http.StatusFound); loc != "/room/proj:example.org/2026-01-02" {
		t.Fatalf("the alias did not move to the new room: %q", loc)
	}
	return e
}

// threadAndMeetingLinks are upgradedProject's links by the alias: a
// thread's page and a meeting's minutes, HTML and text.
var threadAndMeetingLinks = []string{
	"/room/proj:example.org/thread/$root",
	"/room/proj:example.org/meeting/$ms",
	"/room/proj:example.org/meeting/$ms.txt",
}

// followed is where path ends after at most four redirects, and its answer.
func followed(t *testing.T, e *env, path string) (string, *httptest.ResponseRecorder) {
	t.Helper()
	rec := e.get(t, path)
	for hops := 0; rec.Code == http.StatusFound && hops < 4; hops++ {
		path = rec.Header().Get("Location")
		rec = e.get(t, path)
	}
	return path, rec
}

// TestThreadLinksFollowARoomUpgrade: a thread's page is named by its root,
// as a permalink is, under the room's alias, and an upgrade moves the alias
// to the new room: the link made before found its root in another room
// and answered 404 "no thread starting at $root in this room", while the
// root's permalink went on to the old room. Now it is sent (302) to the
// old room's thread page, as the permalink is; a root of a room the room
// did not replace stays a 404 (TestThreadRepliesWithoutAThreadPage).
func TestThreadLinksFollowARoomUpgrade(t *testing.T) {
	e := upgradedProject(t)
	if loc := e.redirect(t, "/room/proj:example.org/event/$root", http.StatusFound); loc != "/room/!x:example.org/event/$root" {
		t.Errorf("the root's permalink leads to %q", loc)
	}
	if loc := e.redirect(t, "/room/proj:example.org/thread/$root", http.StatusFound); loc != "/room/!x:example.org/thread/$root" {
		t.Errorf("the thread's link leads to %q, want the old room's thread", loc)
	}
	if at, rec := followed(t, e, "/room/proj:example.org/thread/$root"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "shall we do X?") {
		t.Errorf("the thread's link ends at %s = %d %.200s", at, rec.Code, rec.Body)
	}
}

// TestGoToDateFollowsARoomUpgrade: the day page's "Go to date" form (the
// room's address by its alias, ?date=) for a day of the room an upgrade
// replaced went to the new room's nearest day, which said that there were
// no messages on the asked-for day, while the day's own link is sent to
// the old room's day (predecessorDayPath). Now both are.
func TestGoToDateFollowsARoomUpgrade(t *testing.T) {
	e := upgradedProject(t)
	if loc := e.redirect(t, "/room/proj:example.org/2026-01-01", http.StatusFound); loc != "/room/!x:example.org/2026-01-01" {
		t.Fatalf("the day link itself leads to %q, want the old room's day", loc)
	}
	if loc := e.redirect(t, "/room/proj:example.org?date=2026-01-01", http.StatusFound); loc != "/room/!x:example.org/2026-01-01" {
		t.Errorf("Go to date 2026-01-01 leads to %q, want the old room's day", loc)
	}
	if at, rec := followed(t, e, "/room/proj:example.org?date=2026-01-01"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "shall we do X?") {
		t.Errorf("Go to date 2026-01-01 ends at %s = %d, not the old room's messages of the day", at, rec.Code)
	}
	// The new room's own day, and a day no room has, as before.
	if loc := e.redirect(t, "/room/proj:example.org?date=2026-01-02", http.StatusFound); loc != "/room/proj:example.org/2026-01-02" {
		t.Errorf("Go to date 2026-01-02 leads to %q, want the new room's day", loc)
	}
	if loc := e.redirect(t, "/room/proj:example.org?date=2025-12-01", http.StatusFound); loc != "/room/proj:example.org/2026-01-02?jumped=2025-12-01" {
		t.Errorf("Go to date 2025-12-01 leads to %q, want the new room's nearest day", loc)
	}
}

// confirmAliasClaims confirms room's pending claims of an alias, as the
// archiver's check with the homeserver's directory would: an upgrade's
// new room takes its predecessor's alias only then.
func confirmAliasClaims(t *testing.T, st *store.Store, room id.RoomID) {
	t.Helper()
	claims, err := st.PendingAliasClaims(context.Background(), time.Time{}, time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range claims {
		if c.RoomID == room {
			if _, err := st.CheckAliasClaim(context.Background(), c, room); err != nil {
				t.Fatal(err)
			}
		}
	}
}
