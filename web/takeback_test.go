package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// Every way a message's or a member's words are taken back reaches every
// page that showed them, cached or not, on this archive-web and on
// another: the change is fed, and each page's key follows its room's
// feed position.

// A member opts out by DM (their topic change stays shown: an opt-out
// keeps the room state they set), then asks to be erased, and the
// operator's erase-user strips that topic. It fed no change for what it
// stripped, and the user was opted out already, so the pages' keys did
// not move: the day page, the JSON day and the permalink kept the erased
// topic under the same ETag, a revalidating browser or CDN got 304, and a
// second (or restarted) archive-web, which rendered the page anew, sent
// another body under that one strong ETag. (A page cached while erase-user
// runs, without an opt-out before, is the same case.)
func TestEraseUserReachesCachedPages(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t,
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			zLine("$zt", "m.room.topic", 500, zUser, sk(""), `{"topic":"zorbsecrettopic"}`),
			zLine("$at", "m.room.topic", 600, aUser, sk(""), `{"topic":"plain topic"}`),
			zLine("$m", "m.room.message", 1000, aUser, nil, `{"msgtype":"m.text","body":"alphaword here"}`),
		))
		if _, err := st.OptOut(ctx, zUser, store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		paths := []string{"/room/!x:example.org/2026-01-01", "/api/v1/rooms/!x:example.org/events?date=2026-01-01", "/room/!x:example.org/event/$m"}
		etags := map[string]string{}
		for _, p := range paths {
			rec := e.get(t, p)
			if !strings.Contains(rec.Body.String(), "zorbsecrettopic") {
				t.Fatalf("opted out: %s does not show the topic:\n%.2000s", p, rec.Body.String())
			}
			etags[p] = rec.Header().Get("ETag")
		}
		if _, err := st.EraseUser(ctx, zUser, false); err != nil {
			t.Fatal(err)
		}
		// A second archive-web (or this one restarted), cache empty.
		other, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", CacheBytes: 8 << 20})
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range []struct {
			name string
			e    *env
		}{{"same archive-web", e}, {"another archive-web", &env{st: st, srv: other}}} {
			for _, p := range paths {
				now := srv.e.get(t, p)
				if strings.Contains(now.Body.String(), "zorbsecrettopic") {
					t.Errorf("%s: %s still shows the erased topic", srv.name, p)
				}
				if now.Header().Get("ETag") == etags[p] {
					t.Errorf("%s: %s has the same ETag %s before and after erase-user, with different bodies", srv.name, p, etags[p])
				}
				if rec := conditionalGet(srv.e, p, etags[p]); rec.Code == http.StatusNotModified {
					t.Errorf("%s: %s answers the pre-erasure ETag with 304: the client keeps the erased topic", srv.name, p)
				}
			}
		}
	})
}

// The operator runs takedown again on a message to replace a reason that
// itself said too much (Store.Takedown replaces it). The message being
// redacted already, no change was fed: the day page, text log, JSON day
// and permalink kept their keys and ETags and went on showing the old
// reason, across restarts.
func TestTakedownReasonReplacedEverywhere(t *testing.T) {
	ctx := context.Background()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), cacheOn, writeRoom(t, cacheRoom()...))
		if err := st.Takedown(ctx, "$m", "posted Zorblax home address oldreasonword"); err != nil {
			t.Fatal(err)
		}
		e.everywhere(t, "$m") // cached
		before := e.everywhere(t, "$m")
		if !strings.Contains(before["day page"], "oldreasonword") {
			t.Fatalf("the day page does not show the takedown reason:\n%.3000s", before["day page"])
		}
		etag := e.get(t, "/room/!x:example.org/2026-01-01").Header().Get("ETag")
		if err := st.Takedown(ctx, "$m", "personal data"); err != nil {
			t.Fatal(err)
		}
		fresh, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example"})
		if err != nil {
			t.Fatal(err)
		}
		truth := (&env{st: st, srv: fresh}).everywhere(t, "$m")
		if strings.Contains(truth["day page"], "oldreasonword") || !strings.Contains(truth["day page"], "personal data") {
			t.Fatalf("an uncached server does not show the new reason either:\n%.3000s", truth["day page"])
		}
		for route, body := range e.everywhere(t, "$m") {
			if strings.Contains(body, "oldreasonword") {
				t.Errorf("after the reason was replaced, %s (cached) still shows the old one", route)
			}
		}
		if rec := conditionalGet(e, "/room/!x:example.org/2026-01-01", etag); rec.Code == http.StatusNotModified {
			t.Errorf("If-None-Match with the old ETag %s gets 304", etag)
		}
		// A restarted (or second) archive-web with its own empty cache.
		opts := cacheOn
		opts.BaseURL = "https://archive.example"
		other, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), opts)
		if err != nil {
			t.Fatal(err)
		}
		if rec := conditionalGet(&env{st: st, srv: other}, "/room/!x:example.org/2026-01-01", etag); rec.Code == http.StatusNotModified {
			t.Errorf("a restarted archive-web answers the old ETag %s with 304", etag)
		}
	})
}

// A moderator redacts a message with a reason that itself says too much,
// then redacts that redaction to take the reason back. The redaction
// event was stripped, but the reason copied into the redactions table
// stayed: the deleted message's placeholder on the day page, the
// permalink, the text log, the API and the room's redactions list kept
// showing it.
func TestRedactedRedactionTakesItsReasonBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, cacheRoom()...))
		e.addEvents(t, redactionLine("$r", aUser, 1767225605000, "$m", "posted secretreasonword"))
		if b := e.get(t, "/room/!x:example.org/2026-01-01").Body.String(); !strings.Contains(b, "secretreasonword") {
			t.Fatalf("the placeholder does not show the reason:\n%.3000s", b)
		}
		e.addEvents(t, redactionLine("$r2", aUser, 1767225606000, "$r", ""))
		if raw := e.get(t, "/api/v1/events/$r").Body.String(); strings.Contains(raw, "secretreasonword") {
			t.Errorf("the redaction event itself still shows the reason: %.300s", raw)
		}
		out := e.everywhere(t, "$m")
		out["redactions page"] = e.get(t, "/room/!x:example.org/redactions").Body.String()
		out["redactions API"] = e.get(t, "/api/v1/rooms/!x:example.org/redactions").Body.String()
		for route, body := range out {
			if strings.Contains(body, "secretreasonword") {
				t.Errorf("after the redaction event was itself redacted, %s still shows its reason", route)
			}
		}
	})
}
