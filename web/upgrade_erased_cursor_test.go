package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// On the upgrade day (both rooms have messages), an old link
// /room/proj/DAY?after=$e naming the old room's event follows the upgrade
// (302 to the old room's day), and an ?after= naming an erased event of
// the room itself places the page; so must one naming an erased event of
// the old room, which the old room's own day page answers
// (deletedCursor): it was a 400.
func TestUpgradeDayLinkOfErasedEvent(t *testing.T) {
	const (
		jan1    = 1767225600000
		jan2    = jan1 + 86400000
		upgrade = jan2 + 3600000
	)
	state := func(evID, typ, room string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	said := func(evID, sender, room string, ts int64, body string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"m.room.message","sender":"` + sender + `","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"` + body + `"}}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			state("$ca", "m.room.canonical_alias", "!x:example.org", jan1+3, `{"alias":"#proj:example.org"}`),
			said("$a1", "@a:example.org", "!x:example.org", jan2+1000, "one"),
			said("$e1", "@eve:example.org", "!x:example.org", jan2+2000, "eve's"),
			said("$a2", "@a:example.org", "!x:example.org", jan2+3000, "two"),
		))
		e.addEvents(t, state("$t", "m.room.tombstone", "!x:example.org", upgrade, `{"body":"moved","replacement_room":"!y:example.org"}`))
		e.addAtOnce(t,
			state("$c2", "m.room.create", "!y:example.org", upgrade+1, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
			state("$hv2", "m.room.history_visibility", "!y:example.org", upgrade+2, `{"history_visibility":"world_readable"}`),
			state("$ca2", "m.room.canonical_alias", "!y:example.org", upgrade+3, `{"alias":"#proj:example.org"}`),
			said("$b1", "@a:example.org", "!y:example.org", upgrade+1000, "new room"),
		)
		confirmAliasClaims(t, st, "!y:example.org")
		if rec := e.get(t, "/room/proj:example.org/2026-01-02?after=$a1"); rec.Code != http.StatusFound {
			t.Fatalf("setup: live cursor of the old room = %d", rec.Code)
		}
		if _, err := st.EraseUser(context.Background(), "@eve:example.org", false); err != nil {
			t.Fatal(err)
		}
		if rec := e.get(t, "/room/!x:example.org/2026-01-02?after=$e1"); rec.Code != http.StatusOK {
			t.Fatalf("setup: the old room's own page after erased $e1 = %d", rec.Code)
		}
		rec := e.get(t, "/room/proj:example.org/2026-01-02?after=$e1")
		if want := "/room/!x:example.org/2026-01-02?after=$e1"; rec.Code != http.StatusFound || rec.Header().Get("Location") != want {
			t.Errorf("old link ?after= an erased event of the old room = %d to %q, want 302 to %q", rec.Code, rec.Header().Get("Location"), want)
		}
	})
}
