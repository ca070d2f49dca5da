package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestDayShowsLateRelations: a day's page, text log and JSON day show the
// edits, reactions and thread replies of its messages that were sent on
// later days, however the day's relations are read.
func TestDayShowsLateRelations(t *testing.T) {
	const day1, day3 = int64(1767225601000), int64(1767225601000 + 2*86400000)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$a", day1, `{"msgtype":"m.text","body":"typo"}`),
			msgLine("$b", day1+1000, `{"msgtype":"m.text","body":"likeable"}`),
			msgLine("$root", day1+2000, `{"msgtype":"m.text","body":"thread root"}`),
			msgLine("$edit", day3, `{"msgtype":"m.text","body":"* fixed later","m.new_content":{"msgtype":"m.text","body":"fixed later"},"m.relates_to":{"rel_type":"m.replace","event_id":"$a"}}`),
			`{"event_id":"$like","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":`+itoa(day3+1)+`,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$b","key":"👍"}}}`,
			msgLine("$reply", day3+2, `{"msgtype":"m.text","body":"much later","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
		))
		doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if got := msgByID(doc, "$a").Find(".body").Text(); !strings.Contains(got, "fixed later") {
			t.Errorf("day page: $a shows %q, want its late edit", got)
		}
		if n := msgByID(doc, "$b").Find(".reactions li").Length(); n != 1 {
			t.Errorf("day page: $b has %d reactions, want its late one", n)
		}
		if got := msgByID(doc, "$root").Text(); !strings.Contains(got, "1 reply") {
			t.Errorf("day page: $root shows %q, want its late thread reply counted", got)
		}
		text := e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String()
		if !strings.Contains(text, "fixed later") {
			t.Errorf("text log lacks the late edit:\n%s", text)
		}
		var api struct {
			Events []struct {
				EventID string `json:"event_id"`
				Text    string `json:"text"`
				Edited  bool   `json:"edited"`
			} `json:"events"`
		}
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/events?date=2026-01-01"), http.StatusOK, &api)
		edited := map[string]string{}
		for _, ev := range api.Events {
			if ev.Edited {
				edited[ev.EventID] = ev.Text
			}
		}
		if !strings.Contains(edited["$a"], "fixed later") {
			t.Errorf("JSON day: edited %v, want $a with its late edit", edited)
		}
	})
}
