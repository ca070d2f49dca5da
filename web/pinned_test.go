package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A message that history read back (here an import) brings stamped in
// 2100 does not take the room's readers there: the room's address opens
// its latest day of messages sent in time, its calendar that day's year,
// and its feed's newest entry is that day's. The message is on its own
// day, which the day before links to.
func TestFutureStampedHistoryDoesNotPinTheRoomsPages(t *testing.T) {
	const year2100 = int64(4102444800000) - 1767225600000 // zLine's offset of 2100-01-01
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$real", "m.room.message", 86400000*40, aUser, nil, `{"msgtype":"m.text","body":"the latest real message"}`),
			zLine("$spam", "m.room.message", year2100, zUser, nil, `{"msgtype":"m.text","body":"pinned spam"}`),
		))
		opensOn(t, e, "2026-02-10")
		feed := e.get(t, "/room/!x:example.org/feed.atom").Body.String()
		if strings.Contains(feed, "pinned spam") || !strings.Contains(feed, "the latest real message") {
			t.Errorf("the room's feed:\n%.3000s", feed)
		}
		day := e.get(t, "/room/!x:example.org/2026-02-10").Body.String()
		if !strings.Contains(day, `href="/room/!x:example.org/2100-01-01"`) {
			t.Errorf("the latest real day does not link the day of 2100:\n%.3000s", day)
		}
		if body := e.get(t, "/room/!x:example.org/2100-01-01").Body.String(); !strings.Contains(body, "pinned spam") {
			t.Errorf("the message stamped in 2100 is not on its day:\n%.3000s", body)
		}
	})
}

// A room whose only messages history read back brought stamped ahead
// has no last message time (none was sent in time): its address and
// calendar open on its first message's day, where they are, not on a
// 404 that says it has no messages while the directory lists it.
func TestRoomOfFutureStampedHistoryOnlyOpensOnIt(t *testing.T) {
	const year2100 = int64(4102444800000) - 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$spam", "m.room.message", year2100, zUser, nil, `{"msgtype":"m.text","body":"only this"}`),
		))
		opensOn(t, e, "2100-01-01")
	})
}

// opensOn checks that room !x's address opens on day (YYYY-MM-DD) and
// its calendar on that day's year.
func opensOn(t *testing.T, e *env, day string) {
	t.Helper()
	for path, want := range map[string]string{
		"/room/!x:example.org":          "/room/!x:example.org/" + day,
		"/room/!x:example.org/calendar": "/room/!x:example.org/calendar/" + day[:4],
	} {
		rec := e.get(t, path)
		if got := rec.Header().Get("Location"); rec.Code != http.StatusFound || got != want {
			t.Errorf("%s: %d to %q; want 302 to %q", path, rec.Code, got, want)
		}
	}
}

// Once such a room's messages are deleted (its sender erased), its
// address says it has no messages, as before, rather than opening on the
// empty day its first time, which outlives them, names (helper-93).
func TestRoomOfErasedFutureStampedHistoryHasNoLatestDay(t *testing.T) {
	const year2100 = int64(4102444800000) - 1767225600000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$spam", "m.room.message", year2100, zUser, nil, `{"msgtype":"m.text","body":"only this"}`),
		))
		if _, err := st.EraseUser(context.Background(), zUser, false); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/room/!x:example.org", "/sitemap/!x:example.org.xml"} {
			if rec := e.get(t, path); rec.Code != http.StatusNotFound {
				t.Errorf("%s: %d to %q; want 404 (no public messages)", path, rec.Code, rec.Header().Get("Location"))
			}
		}
	})
}
