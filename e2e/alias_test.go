package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// A room admin can claim another room's alias in m.room.canonical_alias.
// Dendrite checks the claim only when "alias" is set, so a hostile room
// (bob's) claims the real room's aliases through alt_aliases alone; the
// archiver must ask the directory and route each alias to the real room
// only, whichever claim arrives last.
func TestSquattedAliasesRouteToTheirRoom(t *testing.T) {
	w := newWorld(t)
	real := w.publicRoom("town", "world_readable")
	old := "#town-old:" + serverName
	if _, err := w.alice.Do(http.MethodPut, "/_matrix/client/v3/directory/room/"+url.PathEscape(old), map[string]any{"room_id": real}, nil); err != nil {
		t.Fatal(err)
	}
	w.alice.SendState(t, real, "m.room.canonical_alias", "", map[string]any{"alias": "#town:" + serverName, "alt_aliases": []string{old}})
	w.inviteBot(real)
	w.alice.SendText(t, real, "the real room speaks")

	hostile := w.bob.CreateRoom(t, map[string]any{"preset": "public_chat", "name": "Not the town",
		"initial_state": []map[string]any{{"type": "m.room.history_visibility", "state_key": "",
			"content": map[string]any{"history_visibility": "world_readable"}}}})
	w.bob.SendState(t, hostile, "m.room.canonical_alias", "", map[string]any{"alt_aliases": []string{old, "#town:" + serverName}})
	w.bob.Invite(t, hostile, w.bot)
	w.waitFor("the bot to join the hostile room", 30*time.Second, func() bool {
		var m struct {
			Membership string `json:"membership"`
		}
		return json.Unmarshal(w.bob.State(t, hostile, "m.room.member", w.bot), &m) == nil && m.Membership == "join"
	})
	w.bob.SendText(t, hostile, "hijacked words")
	// The hostile room claims again, after the real room was verified.
	w.bob.SendState(t, hostile, "m.room.canonical_alias", "", map[string]any{"alt_aliases": []string{old}})
	marker := w.bob.SendText(t, hostile, "after the second claim")
	w.waitFor("the hostile room's messages", 60*time.Second, func() bool { _, ok := w.archived(marker)[marker]; return ok })

	ctx := context.Background()
	routes := func(alias string) id.RoomID {
		r, err := w.st.RoomIDByAlias(ctx, alias)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		return r
	}
	w.waitFor("both aliases to route to the real room", 60*time.Second, func() bool {
		return routes("#town:"+serverName) == id.RoomID(real) && routes(old) == id.RoomID(real)
	})
	// Every claim checked (a claim replaced before its check is never
	// asked about), and the hostile one refused in the log.
	w.waitFor("the hostile claims to be refused", 60*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(w.dir, "archiver.log"))
		p, err := w.st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10)
		return err == nil && len(p) == 0 && strings.Contains(string(b), "alias claim refused") &&
			strings.Contains(string(b), "room_id="+hostile+" alias="+old)
	})
	if got := routes(old); got != id.RoomID(real) {
		t.Errorf("%s routes to %s after the hostile claims, want %s", old, got, real)
	}

	srv := w.webServer(w.readerStore(), nil)
	day := time.Now().UTC().Format("2006-01-02")
	for _, p := range []string{"/room/town-old:" + serverName + "/" + day, "/room/town:" + serverName + "/" + day} {
		code, body := get(srv, p)
		if code != http.StatusOK || !strings.Contains(body, "the real room speaks") || strings.Contains(body, "hijacked") {
			t.Errorf("GET %s = %d, want the real room", p, code)
		}
	}
	// The hostile room keeps room-ID URLs: no redirect, no link to the aliases.
	rec := get1(srv, "/room/"+url.PathEscape(hostile)+"/"+day)
	if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `href="/room/town`) {
		t.Errorf("the hostile room's page = %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
	// The real room's ID URL canonicalises to its alias, temporarily.
	rec = get1(srv, "/room/"+url.PathEscape(real)+"/"+day)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/room/town:"+serverName+"/"+day {
		t.Errorf("the real room's ID URL = %d, Location %q", rec.Code, rec.Header().Get("Location"))
	}
}

// get1 answers a GET without following redirects.
func get1(srv http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}
