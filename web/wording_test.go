package web_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The store says why a room or a message is not shown; the web says it to
// readers in these exact words, on the pages, in the text log and in the
// API.
func TestReadersAreToldWhyInTheArchivesWords(t *testing.T) {
	storetest.EachWith(t, store.Options{Bot: bot}, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const t0 = 1767225600000
		e := newEnv(t, st, writeRoom(t, bobLine,
			msgLine("$ann", t0+4000, `{"msgtype":"m.text","body":"ann's words"}`),
			msgLine("$gone", t0+5000, `{"msgtype":"m.text","body":"gone words"}`),
			`{"event_id":"$red","room_id":"!x:example.org","type":"m.room.redaction","sender":"@a:example.org","origin_server_ts":1767225606000,"redacts":"$gone","content":{"reason":"typo"}}`))
		e.addEvents(t,
			roomLines("!private:example.org", t0,
				`{"event_id":"$hv2","room_id":"!private:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225700000,"state_key":"","content":{"history_visibility":"shared"}}`),
			roomLines("!op:example.org", t0),
			roomLines("!opwhy:example.org", t0),
			roomLines("!kicked:example.org", t0,
				memberLine("!kicked:example.org", "$botjoin", bot, bot, "join", t0+10),
				memberLine("!kicked:example.org", "$botkick", "@a:example.org", bot, "leave", t0+20)),
			roomLines("!banned:example.org", t0,
				memberLine("!banned:example.org", "$botjoin2", bot, bot, "join", t0+10),
				memberLine("!banned:example.org", "$botban", "@a:example.org", bot, "ban", t0+20)),
			roomLines("!purged:example.org", t0,
				`{"event_id":"$palias","room_id":"!purged:example.org","type":"m.room.canonical_alias","sender":"@a:example.org","origin_server_ts":1767225600010,"state_key":"","content":{"alias":"#gone:example.org"}}`),
		)
		if rec := e.get(t, "/room/gone:example.org/2026-01-01"); rec.Code != http.StatusOK {
			t.Fatalf("the room by its alias before the purge = %d", rec.Code)
		}
		if _, err := st.PurgeRoom(ctx, "!purged:example.org", false); err != nil {
			t.Fatal(err)
		}
		if err := st.HideRoom(ctx, "!op:example.org", true, ""); err != nil {
			t.Fatal(err)
		}
		if err := st.HideRoom(ctx, "!opwhy:example.org", true, "spam wave"); err != nil {
			t.Fatal(err)
		}
		for room, want := range map[string]string{
			"!purged:example.org":  "The archive's operator has removed this room from the archive.",
			"gone:example.org":     "The archive's operator has removed this room from the archive.", // by its alias
			"!op:example.org":      "The archive's operator has hidden this room.",
			"!opwhy:example.org":   "The archive's operator has hidden this room: spam wave",
			"!banned:example.org":  "The room's moderators banned the archive from this room, so it is no longer shown.",
			"!kicked:example.org":  "The archive is no longer a member of this room, so it is no longer shown.",
			"!private:example.org": "This room's history is no longer readable by anyone, so the archive no longer shows it.",
		} {
			rec := e.get(t, "/room/"+room+"/2026-01-01")
			if body := html.UnescapeString(rec.Body.String()); rec.Code != http.StatusGone || !strings.Contains(body, want) {
				t.Errorf("%s = %d, want 410 saying %q:\n%.1500s", room, rec.Code, want, body)
			}
		}

		if _, err := st.OptOut(ctx, "@b:example.org", "dm"); err != nil {
			t.Fatal(err)
		}
		if err := st.Takedown(ctx, "$ann", "posted a phone number"); err != nil {
			t.Fatal(err)
		}
		log := e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String()
		for _, want := range []string{"hidden at the sender's request", "removed by the archive's operator", "message deleted"} {
			if !strings.Contains(log, want) {
				t.Errorf("the text log does not say %q:\n%s", want, log)
			}
		}
		for ev, want := range map[string][2]string{
			"$bob":  {"hidden at the sender's request", "hidden at the sender's request"},
			"$ann":  {"removed by the archive's operator", "posted a phone number"},
			"$gone": {"message deleted", "typo"},
		} {
			var got struct {
				Withdrawn string `json:"withdrawn"`
				Reason    string `json:"redaction_reason"`
			}
			rec := e.get(t, "/api/v1/events/"+ev)
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("%s: %v: %s", ev, err, rec.Body.String())
			}
			if got.Withdrawn != want[0] || got.Reason != want[1] {
				t.Errorf("API %s: withdrawn %q reason %q, want %q %q", ev, got.Withdrawn, got.Reason, want[0], want[1])
			}
		}
	})
}
