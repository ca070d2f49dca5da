package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestEditHistoryOfEditsEnds: the edit-history page of an edit leads to
// its original's history, but, as its permalink does
// (TestPermalinksOfRelationsEnd), never round in a loop or to a message it
// is no edit of: a reader following /room/{room}/event/{edit}/edits of an
// edit of itself was sent to the same page for ever, two edits naming
// each other bounced between them, and another sender's "edit" showed the
// history of a message it does not edit. Those are the permalink's 404,
// which says the edit names a message it cannot belong to.
func TestEditHistoryOfEditsEnds(t *testing.T) {
	rel := func(evID, sender string, ts int64, target string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":"m.text","body":"* x","m.new_content":{"msgtype":"m.text","body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":%q}}}`,
			evID, sender, ts, target)
	}
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$m1", ts, `{"msgtype":"m.text","body":"one"}`),
		rel("$e1", "@a:example.org", ts+1, "$m1"),
		rel("$self", "@a:example.org", ts+5, "$self"),
		rel("$cycA", "@a:example.org", ts+6, "$cycB"),
		rel("$cycB", "@a:example.org", ts+7, "$cycA"),
		rel("$other", "@b:example.org", ts+8, "$m1"),
	))
	if loc := e.redirect(t, "/room/!x:example.org/event/$e1/edits", http.StatusFound); loc != "/room/!x:example.org/event/$m1/edits" {
		t.Errorf("$e1's edit history leads to %q, want $m1's", loc)
	}
	e.page(t, "/room/!x:example.org/event/$m1/edits", http.StatusOK)
	for _, ev := range []string{"$self", "$cycA", "$cycB", "$other"} {
		path := "/room/!x:example.org/event/" + url.PathEscape(ev) + "/edits"
		if rec := e.get(t, path); rec.Code != http.StatusNotFound {
			t.Errorf("%s = %d (Location %q), want the permalink's 404", path, rec.Code, rec.Header().Get("Location"))
		}
	}
}
