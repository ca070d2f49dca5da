package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// A bridged IRC user archived before its bridge was configured shows by
// its user ID; once the archiver names the puppets (store.NamePuppets),
// the day page shows its nick, under another ETag, so a cached copy is
// not revalidated, and the API day carries the nick as its sender name.
func TestArchivedPuppetShowsByNick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const puppet = "@_oftc_zed:matrix.org"
		e := newEnv(t, st, writeRoom(t,
			zLine("$pj", "m.room.member", 10, puppet, sk(puppet), `{"membership":"join"}`),
			zLine("$pm", "m.room.message", 1000, puppet, nil, `{"msgtype":"m.text","body":"hello from IRC"}`),
		))
		const day = "/room/!x:example.org/2026-01-01"
		sender := func() string {
			return strings.TrimSpace(e.page(t, day, http.StatusOK).Find(`.sender[title="` + puppet + `"]`).First().Text())
		}
		if got := sender(); got != puppet {
			t.Fatalf("before: the puppet shows as %q, want its user ID", got)
		}
		etag := e.get(t, day).Header().Get("ETag")

		bridges := irclog.Bridges{{Server: "matrix.org", Prefix: "_oftc_"}}
		if n, err := st.NamePuppets(context.Background(), bridges.Nick, 100, nil); err != nil || n == 0 {
			t.Fatalf("NamePuppets = %d, %v", n, err)
		}
		if got := sender(); got != "zed" {
			t.Errorf("after: the puppet shows as %q, want its nick zed", got)
		}
		if rec := conditionalGet(e, day, etag); rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag {
			t.Errorf("after: a revalidation with the old ETag answers %d with ETag %q (was %q), want 200 and a new ETag", rec.Code, rec.Header().Get("ETag"), etag)
		}
		if api := e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-01").Body.String(); !strings.Contains(api, `"sender_name":"zed"`) {
			t.Errorf("after: the API day does not name the puppet zed:\n%.2000s", api)
		}
	})
}
