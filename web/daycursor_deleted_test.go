package web_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// TestDayCursorOutlivesItsDeletedEvent: a busy day's link to its next
// page (?after={event}) and the JSON day's next_after name the last event
// of the page before. Once that event is deleted (its sender erased with
// archiver erase-user), the link was a 400: a script paging through the
// day could not go on, and a cited "?after=" link was dead, though the
// rest of the day was there. The tombstone keeps the event's time, and
// the page now starts at that millisecond: an event of the same
// millisecond the page before showed ($a1 here) is shown again rather
// than risk skipping one. A cursor the archive never had, or one of
// another day, is still a 400.
func TestDayCursorOutlivesItsDeletedEvent(t *testing.T) {
	const ts = 1767312001000 // 2026-01-02 00:00:01
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{APIDayPageSize: 3, DayPageSize: 3}, writeRoom(t,
			speakerSaid("$a0", "@a:example.org", "m.text", "zero", ts),
			speakerSaid("$a1", "@a:example.org", "m.text", "one, the same millisecond as eve's", ts+1),
			speakerSaid("$e1", "@eve:example.org", "m.text", "eve's", ts+1),
			speakerSaid("$a2", "@a:example.org", "m.text", "two", ts+2),
			speakerSaid("$a3", "@a:example.org", "m.text", "three", ts+3),
		))
		const api = "/api/v1/rooms/!x:example.org/events?date=2026-01-02"
		var first pagedJSONDay
		decode(t, e.get(t, api), http.StatusOK, &first)
		if !first.Truncated || first.NextAfter != "$e1" {
			t.Fatalf("first JSON page: truncated %v, next_after %q; want the cursor $e1", first.Truncated, first.NextAfter)
		}
		if _, err := st.EraseUser(context.Background(), "@eve:example.org", false); err != nil {
			t.Fatal(err)
		}
		var next pagedJSONDay
		decode(t, e.get(t, api+"&after=$e1"), http.StatusOK, &next)
		var got []string
		for _, ev := range next.Events {
			got = append(got, ev.EventID)
		}
		if want := []string{"$a1", "$a2", "$a3"}; !slices.Equal(got, want) {
			t.Errorf("JSON page after the erased $e1 = %v, want %v (its millisecond again, then the rest)", got, want)
		}
		rec := e.get(t, "/room/!x:example.org/2026-01-02?after=$e1")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "three") {
			t.Errorf("day page ?after= the erased $e1 = %d, want the rest of the day", rec.Code)
		}
		for _, p := range []string{
			"/room/!x:example.org/2026-01-03?after=$e1", // not that day's
			"/room/!x:example.org/2026-01-02?after=$never",
			api + "&after=$never",
		} {
			if rec := e.get(t, p); rec.Code != http.StatusBadRequest {
				t.Errorf("GET %s = %d, want 400", p, rec.Code)
			}
		}
	})
}

// pagedJSONDay is the part of a JSON day the paging tests read.
type pagedJSONDay struct {
	Events []struct {
		EventID string `json:"event_id"`
	} `json:"events"`
	Truncated bool   `json:"truncated"`
	NextAfter string `json:"next_after"`
}
