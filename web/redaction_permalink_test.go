package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRedactionPermalinkLeadsToWhatItDeleted: before room version 11 a
// redaction's target is its top-level "redacts", which its servers checked
// and the archive applies; content.redacts is anyone's to fill. Mallory
// deleted her own message with a content.redacts naming Ann's: the
// redaction's permalink led to Ann's message, shown intact, as if it
// were the one deleted. It now leads to the one the archive deleted.
func TestRedactionPermalinkLeadsToWhatItDeleted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t, // a version 3 room
			`{"event_id":"$own","room_id":"!x:example.org","type":"m.room.message","sender":"@m:example.org","origin_server_ts":1767225601000,"content":{"msgtype":"m.text","body":"mine"}}`,
			msgLine("$victim", 1767225602000, `{"msgtype":"m.text","body":"the vote passed 7 to 2"}`),
			`{"event_id":"$red","room_id":"!x:example.org","type":"m.room.redaction","sender":"@m:example.org","origin_server_ts":1767225603000,"redacts":"$own","content":{"redacts":"$victim"}}`,
		))
		rec := e.get(t, "/room/!x:example.org/event/$red")
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusFound || !(strings.HasSuffix(loc, "/event/$own") || strings.HasSuffix(loc, "/event/%24own")) {
			t.Errorf("the redaction's permalink = %d to %q; want a redirect to $own's", rec.Code, loc)
		}
		if body := e.get(t, "/room/!x:example.org/event/$own").Body.String(); strings.Contains(body, "mine") {
			t.Errorf("the message the redaction deleted is shown")
		}
	})
}
