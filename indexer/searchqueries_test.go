package indexer_test

import (
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestSearchQueries bounds the store round trips of one search: on
// PostgreSQL each is a trip to another process sharing the cores, and a
// search's p99 grew with their number.
func TestSearchQueries(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := corpusStore(t, dialect, 3000)
			ix := openIndex(t, st, t.TempDir())
			catchUp(t, ix)
			count, err := st.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			// Warm: the process's copy of opt-outs and policies.
			warm := search(t, ix, "the", "newest", 20, "")
			if len(warm.Events) == 0 {
				t.Fatal("no hits")
			}
			in := "in:" + string(warm.Events[0].RoomID) + " "
			from := "from:" + string(warm.Events[0].Sender) + " "
			// Three: the feed (once for the whole search), the hits, their
			// rooms (read with the room filter's bounds when there is one).
			for _, c := range []struct {
				q, sort string
				max     int64
			}{
				{"the", "newest", 3},
				{"the", "relevance", 3},
				{"the", "oldest", 3},
				// A phrase's hits are checked against their text as
				// shown, after their edits (read in one more).
				{`"in the"`, "newest", 4},
				{in + "the", "newest", 3},
				{in + "the", "oldest", 3},
				{in + "the", "relevance", 3},
				{from + "the", "newest", 3},
			} {
				before := count()
				res := search(t, ix, c.q, c.sort, 20, "")
				if len(res.Events) == 0 {
					t.Fatalf("%s %s: no hits", c.q, c.sort)
				}
				n := count() - before
				t.Logf("%s %s: %d queries", c.q, c.sort, n)
				if n > c.max {
					t.Errorf("search %s %s: %d queries, want at most %d", c.q, c.sort, n, c.max)
				}
			}
		})
	}
}
