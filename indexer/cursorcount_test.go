package indexer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// The count a cursor carries from page to page is taken only from a cursor
// the archive made for the same search. A time-ordered cursor's count was
// taken whatever it was: a link with "n" set to 10^12 made the search page
// say "1000000000002 matches." (exact) of a word two messages hold, and
// the API's total_estimate with it. A relevance cursor's count, though at
// most its offset, said "5 matches." of the same word. A count written
// into a cursor, or carried from another search, now counts for nothing:
// the results are counted from that page on, as a lower bound.
func TestForgedCursorCountsAreNotTaken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openIndex(t, st, t.TempDir())
		var ls []string
		for i := range 5 {
			ls = append(ls, msg(fmt.Sprintf("$c%d", i), int64(3000+i), `{"msgtype":"m.text","body":"capybara"}`))
		}
		ls = append(ls, msg("$k1", 2001, `{"msgtype":"m.text","body":"kumquat one"}`),
			msg("$k2", 2002, `{"msgtype":"m.text","body":"kumquat two"}`))
		add(t, st, lines(ls...)...)
		catchUp(t, ix)
		encode := func(c map[string]any) string {
			b, _ := json.Marshal(c)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		// rewrite is a cursor the archive made with its count changed.
		rewrite := func(cursor string, n int) string {
			b, err := base64.RawURLEncoding.DecodeString(cursor)
			var c map[string]any
			if err != nil || json.Unmarshal(b, &c) != nil {
				t.Fatalf("cursor %q is not base64 JSON", cursor)
			}
			c["n"] = n
			return encode(c)
		}
		run := func(q, sort, cursor string) indexer.Result {
			t.Helper()
			pq, err := indexer.ParseQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			res, err := ix.Search(context.Background(), indexer.Request{Query: pq, Sort: sort, Size: 2, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s %q after %q: %v", sort, q, cursor, err)
			}
			return res
		}
		for _, sort := range []string{indexer.SortNewest, indexer.SortOldest, indexer.SortRelevance} {
			first := run("capybara", sort, "")
			if first.Next == "" {
				t.Fatalf("%s: one page of capybara", sort)
			}
			// A count written in, or changed: a relevance cursor's count
			// is at most its offset (2, the first page's).
			forged := encode(map[string]any{"a": []string{"9999999999999", "zzzz"}, "n": 1000000000000})
			rewritten := rewrite(first.Next, 1000)
			switch sort {
			case indexer.SortOldest:
				forged = encode(map[string]any{"a": []string{"0000000000000", ""}, "n": 1000000000000})
			case indexer.SortRelevance:
				forged, rewritten = encode(map[string]any{"o": 5, "n": 5}), rewrite(first.Next, 1)
			}
			for name, c := range map[string]struct {
				q, cursor string
				most      uint64 // the matches there are
			}{
				"written":                 {"kumquat", forged, 2},
				"rewritten":               {"capybara", rewritten, 5},
				"of another search":       {"kumquat", first.Next, 2},
				"of another search's end": {"kumquat", rewrite(first.Next, 0), 2},
			} {
				res := run(c.q, sort, c.cursor)
				if res.Total > c.most || res.Exact {
					t.Errorf("%s, a cursor %s: %d results, total %d (exact %v); want at most %d, as a lower bound",
						sort, name, len(res.Events), res.Total, res.Exact, c.most)
				}
				// The pages after it are lower bounds too.
				for res.Next != "" {
					if res = run(c.q, sort, res.Next); res.Total > c.most || res.Exact {
						t.Errorf("%s, a page after a cursor %s: total %d (exact %v); want at most %d, as a lower bound",
							sort, name, res.Total, res.Exact, c.most)
					}
				}
			}
			// The archive's own cursors still count every page, exactly
			// on the last.
			res := first
			for res.Next != "" {
				res = run("capybara", sort, res.Next)
			}
			if res.Total != 5 || !res.Exact {
				t.Errorf("%s: the last page of capybara: total %d (exact %v); want exactly 5", sort, res.Total, res.Exact)
			}
		}
	})
}
