package indexer

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"maunium.net/go/mautrix/id"
)

// A query of one condition is searched without the conjunction Bleve
// wraps around it, and every hit scores exactly as it did wrapped: the
// periods' hits are merged by score, so a score that moved would reorder
// relevance pages.
func TestUnwrappedScoresAsWrapped(t *testing.T) {
	m, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := bleve.NewMemOnly(m)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	b := idx.NewBatch()
	for i := range 300 {
		// Texts of many lengths and word counts, so that scores differ.
		text := strings.Repeat("zebra ", 1+i%4) + strings.Repeat("grass ", i%13) + fmt.Sprintf("w%d", i%7)
		if i%5 == 0 {
			text = "lion " + text
		}
		// Words in every nth document: a query norm rounds to exactly 1
		// for some document frequencies only.
		for n := 2; n <= 60; n++ {
			if i%n == 0 {
				text += fmt.Sprintf(" f%d", n)
			}
		}
		doc := document{Text: text, Sender: fmt.Sprintf("@u%d:x", i%3), Room: "!r:x"}
		if err := b.Index(fmt.Sprintf("e%03d", i), doc); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Batch(b); err != nil {
		t.Fatal(err)
	}
	type qc struct {
		q      Query
		unwrap bool
		few    bool // the hits may score alike
	}
	cases := []qc{
		{Query{Words: []string{"zebra"}}, true, false},
		{Query{Words: []string{"lion"}}, true, false},
		{Query{Phrases: []string{"zebra grass"}}, true, false},
		{Query{Words: []string{"zebra", "lion"}}, false, false},
		{Query{Words: []string{"zebra"}, From: []id.UserID{"@u1:x"}}, false, false},
	}
	for n := 2; n <= 60; n++ {
		cases = append(cases, qc{Query{Words: []string{fmt.Sprintf("f%d", n)}}, true, true})
	}
	for _, c := range cases {
		q, _, _ := buildQuery(m, c.q, nil)
		u := unwrapped(q)
		if n, ok := u.(normed); ok != c.unwrap {
			t.Errorf("%+v: unwrapped %T", c.q, u)
		} else if ok {
			if _, ok := n.Query.(*query.TermQuery); !ok {
				t.Errorf("%+v: unwrapped to %T, not its term", c.q, n.Query)
			}
		}
		scores := func(q query.Query) map[string]float64 {
			sr := bleve.NewSearchRequestOptions(q, 1000, 0, false)
			res, err := idx.SearchInContext(context.Background(), sr)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]float64{}
			for _, h := range res.Hits {
				out[h.ID] = h.Score
			}
			return out
		}
		want, got := scores(q), scores(u)
		if len(want) == 0 || len(got) != len(want) {
			t.Errorf("%+v: %d hits unwrapped, %d wrapped", c.q, len(got), len(want))
		}
		distinct := map[float64]bool{}
		for id, s := range want {
			distinct[s] = true
			if got[id] != s {
				t.Errorf("%+v: %s scores %v unwrapped, %v wrapped", c.q, id, got[id], s)
			}
		}
		if len(distinct) < 3 && !c.few {
			t.Errorf("%+v: only %d distinct scores; the test proves nothing", c.q, len(distinct))
		}
	}
}
