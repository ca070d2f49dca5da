package web_test

import (
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/web"
)

// A busy day's page link made while the room had no alias (or an older
// one), /room/!id/DATE?after=EV or ?hour=13, usually with #EV: the stale
// room part redirects to the room's slug with the query kept, or the
// reader lands on the day's first page, where the anchor is not, or on
// 00:00 instead of 13:00.
func TestStaleRoomRedirectKeepsTheQuery(t *testing.T) {
	const ts = 1767312001000 // 2026-01-02
	text := func(s string) string { return `{"msgtype":"m.text","body":"` + s + `"}` }
	e := newEnvRender(t, storetest.Open(t, "sqlite"), render.New(render.Options{}), web.Options{DayPageSize: 2}, writeRoom(t,
		msgLine("$a1", ts, text("one")),
		msgLine("$a2", ts+1, text("two")),
		msgLine("$a3", ts+2, text("three")),
		msgLine("$a4", ts+13*3600000, text("four")),
	))
	e.addEvents(t, `{"event_id":"$ca","room_id":"!x:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767312000500,"state_key":"","content":{"alias":"#proj:example.org"}}`)
	for p, want := range map[string]string{
		"/room/!x:example.org/2026-01-02?after=%24a2":  "/room/proj:example.org/2026-01-02?after=%24a2",
		"/room/!x:example.org/2026-01-02?hour=13":      "/room/proj:example.org/2026-01-02?hour=13",
		"/room/!x:example.org/2026-01-02":              "/room/proj:example.org/2026-01-02",
		"/room/!x:example.org/event/%24a2?x=1":         "/room/proj:example.org/event/$a2?x=1",
		"/room/!x:example.org/calendar/2026-01?page=2": "/room/proj:example.org/calendar/2026-01?page=2",
	} {
		rec := e.get(t, p)
		if loc := rec.Header().Get("Location"); rec.Code != http.StatusFound || loc != want {
			t.Errorf("GET %s = %d to %q, want a redirect to %q", p, rec.Code, loc, want)
		}
	}
}
