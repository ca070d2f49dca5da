package web_test

import (
	"net/http"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A search page reads its hits' rooms once: the rooms the search's check
// read come with its result, and the page does not read each room again
// (a round trip per room on PostgreSQL).
func TestSearchQueriesStayFew(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, demoFile, "../testdata/demo/opendev-infra.ndjson")
		e.withSearch(t)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		// The feed, the hits, their rooms and their edits (listed, then
		// the one each shows read: store.LatestEdits; the demo's hits
		// include edited messages); the page also lists the rooms for its
		// form, and reads their archive controls (it offers the listed
		// ones).
		for path, max := range map[string]int64{"/api/v1/search?q=the": 5, "/search?q=the": 7} {
			var out struct {
				Results []struct {
					RoomID string `json:"room_id"`
				} `json:"results"`
			}
			decode(t, e.get(t, "/api/v1/search?q=the&size=50"), http.StatusOK, &out) // warm
			rooms := map[string]bool{}
			for _, r := range out.Results {
				rooms[r.RoomID] = true
			}
			if len(rooms) < 2 {
				t.Fatalf("the hits name %d rooms, want several", len(rooms))
			}
			before := count()
			if rec := e.get(t, path+"&size=50"); rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d", path, rec.Code)
			}
			n := count() - before
			t.Logf("%s: %d queries", path, n)
			if n > max {
				t.Errorf("GET %s: %d queries, want at most %d", path, n, max)
			}
		}
	})
}
