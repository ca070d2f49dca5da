package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The directory, its JSON and the about page count a room's messages as
// its pages show them: an opted-out member's are left out, at once on
// pages asked for before the opt-out (cached, or revalidated by their
// ETag), and counted again when they opt back in.
func TestRoomCountsLeaveOptedOutMembersOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, writeRoom(t,
			zLine("$a1", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"one"}`),
			zLine("$z1", "m.room.message", 2000, zUser, nil, `{"msgtype":"m.text","body":"two"}`),
			zLine("$z2", "m.room.message", 3000, zUser, nil, `{"msgtype":"m.text","body":"three"}`),
		))
		var base struct {
			Rooms []struct {
				MessageCount int `json:"message_count"`
			} `json:"rooms"`
		}
		decode(t, e.get(t, "/api/v1/rooms"), http.StatusOK, &base)
		if len(base.Rooms) != 1 {
			t.Fatalf("rooms = %+v", base)
		}
		all := base.Rooms[0].MessageCount // the fixture's own messages, and these three
		counts := func(step string, want int, etag string) {
			t.Helper()
			list := e.get(t, "/api/v1/rooms")
			var rooms struct {
				Rooms []struct {
					MessageCount int `json:"message_count"`
				} `json:"rooms"`
			}
			decode(t, list, http.StatusOK, &rooms)
			if len(rooms.Rooms) != 1 || rooms.Rooms[0].MessageCount != want {
				t.Errorf("%s: /api/v1/rooms = %+v; want %d messages", step, rooms, want)
			}
			if etag != "" {
				if rec := e.do(t, http.MethodGet, "/api/v1/rooms", map[string]string{"If-None-Match": etag}); rec.Code == http.StatusNotModified {
					t.Errorf("%s: /api/v1/rooms revalidated with the ETag of other counts: 304", step)
				}
			}
			if body := e.get(t, "/").Body.String(); !strings.Contains(body, `<span class="count">`+itoa(int64(want))+` messages</span>`) {
				t.Errorf("%s: the directory does not count %d messages:\n%.2000s", step, want, body)
			}
			if body := e.get(t, "/room/!x:example.org/about").Body.String(); !strings.Contains(body, `<span class="count">`+itoa(int64(want))+`</span>`) {
				t.Errorf("%s: the about page does not count %d messages:\n%.2000s", step, want, body)
			}
		}
		counts("before", all, "")
		etag := e.get(t, "/api/v1/rooms").Header().Get("ETag")
		if _, err := st.OptOut(ctx, zUser, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		counts("z opted out", all-2, etag)
		etag = e.get(t, "/api/v1/rooms").Header().Get("ETag")
		if _, err := st.OptIn(ctx, zUser); err != nil {
			t.Fatal(err)
		}
		counts("z opted in", all, etag)
	})
}

// A room opens on the last day with something to read, and its times in
// the directory's JSON are of what its pages show: when the member who
// wrote last opts out, the room opens on the day before, and its last
// activity is no longer the time of their last message.
func TestRoomTimesLeaveOptedOutMembersOut(t *testing.T) {
	const day = 86400000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st, writeRoom(t,
			zLine("$a1", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"one"}`),
			zLine("$z1", "m.room.message", 2*day+1000, zUser, nil, `{"msgtype":"m.text","body":"two"}`),
		))
		lastActivity := func(step, want string) {
			t.Helper()
			var rooms struct {
				Rooms []struct {
					LastActivity string `json:"last_activity"`
				} `json:"rooms"`
			}
			decode(t, e.get(t, "/api/v1/rooms"), http.StatusOK, &rooms)
			if len(rooms.Rooms) != 1 || rooms.Rooms[0].LastActivity != want {
				t.Errorf("%s: /api/v1/rooms = %+v; want last activity %s", step, rooms, want)
			}
		}
		opensOn(t, e, "2026-01-03")
		lastActivity("before", "2026-01-03T00:00:01Z")
		if _, err := st.OptOut(ctx, zUser, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		opensOn(t, e, "2026-01-01")
		lastActivity("z opted out", "2026-01-01T00:00:01Z")
		if _, err := st.OptIn(ctx, zUser); err != nil {
			t.Fatal(err)
		}
		opensOn(t, e, "2026-01-03")
		lastActivity("z opted in", "2026-01-03T00:00:01Z")
	})
}
