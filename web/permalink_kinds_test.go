package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestPermalinkOfAnEventNoPageShows: the permalink of an event the archive
// keeps but no page draws (a change of power levels or join rules, a room
// name of another state key, a custom event type) is a 404 that says what
// the event is and that the archive does not show that kind: it was a 200
// page of the event's neighbours, titled and described as a message of its
// sender, nothing highlighted, with a whole-day link to a #fragment the day
// does not hold. A state change the day shows keeps its permalink.
func TestPermalinkOfAnEventNoPageShows(t *testing.T) {
	state := func(evID, typ, key, content string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":"@a:example.org","state_key":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, key, ts, content)
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$before", 1767225600500, `{"msgtype":"m.text","body":"neighbour before"}`),
		state("$pl", "m.room.power_levels", "", `{"users":{"@a:example.org":100}}`, 1767225601000),
		state("$jr", "m.room.join_rules", "", `{"join_rule":"public"}`, 1767225602000),
		state("$n2", "m.room.name", "notempty", `{"name":"other key"}`, 1767225603000),
		`{"event_id":"$custom","room_id":"!x:example.org","type":"com.example.custom","sender":"@a:example.org","origin_server_ts":1767225604000,"content":{"body":"custom"}}`,
		state("$n1", "m.room.name", "", `{"name":"Real name"}`, 1767225604500),
		msgLine("$after", 1767225605000, `{"msgtype":"m.text","body":"neighbour after"}`),
	))
	for ev, says := range map[string]string{
		"$pl":     `of type "m.room.power_levels"`,
		"$jr":     `of type "m.room.join_rules"`,
		"$n2":     `of type "m.room.name" (state key "notempty")`,
		"$custom": `of type "com.example.custom"`,
	} {
		doc := e.page(t, "/room/!x:example.org/event/"+url.PathEscape(ev), http.StatusNotFound)
		text := strings.Join(strings.Fields(doc.Find("main").Text()), " ")
		if !strings.Contains(text, says) || !strings.Contains(text, "does not show") {
			t.Errorf("%s's permalink says %q; want it to say it is an event %s the archive does not show", ev, text, says)
		}
		if doc.Find("a.full-day").Length() != 0 || doc.Find(`meta[property="og:description"]`).Length() != 0 {
			t.Errorf("%s's permalink links a whole day or describes a message", ev)
		}
	}
	if !msgByID(e.page(t, "/room/!x:example.org/event/$n1", http.StatusOK), "$n1").HasClass("highlight") {
		t.Error("the permalink of a room name the day shows does not show it")
	}
}
