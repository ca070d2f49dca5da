package indexer

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"maunium.net/go/mautrix/id"
)

// A query of one condition is searched without the conjunction Bleve
// wraps around it, and every hit scores exactly as it did wrapped: the
// periods' hits are merged by score, so a score that moved would reorder
// relevance pages.
// scoreIndex is an index of 300 documents whose words' frequencies,
// document frequencies and lengths differ, so that their scores do.
func scoreIndex(t *testing.T) (bleve.Index, mapping.IndexMapping) {
	t.Helper()
	m, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := bleve.NewMemOnly(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
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
	return idx, m
}

func TestUnwrappedScoresAsWrapped(t *testing.T) {
	idx, m := scoreIndex(t)
	type qc struct {
		q      Query
		unwrap bool
		few    bool // the hits may score alike
	}
	cases := []qc{
		{Query{Words: []string{"zebra"}}, true, false},
		{Query{Words: []string{"lion"}}, true, false},
		// A phrase is its words and its pair's bucket.
		{Query{Phrases: []string{"zebra grass"}}, false, false},
		{Query{Words: []string{"zebra", "lion"}}, false, false},
		{Query{Words: []string{"zebra"}, From: []id.UserID{"@u1:x"}}, false, false},
		{Query{Words: []string{"zebra"}, Exclude: []string{"lion"}}, true, false},
		{Query{Words: []string{"grass"}, Exclude: []string{"lion", "w3"}}, true, false},
	}
	for n := 2; n <= 60; n++ {
		cases = append(cases, qc{Query{Words: []string{fmt.Sprintf("f%d", n)}}, true, true})
	}
	for _, c := range cases {
		q, _, _ := buildQuery(m, c.q, nil)
		u := unwrapped(q)
		one, _ := oneTerm(u)
		if (one != nil) != c.unwrap {
			t.Errorf("%+v: unwrapped %T", c.q, u)
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

// termTop, the relevance search of one term, finds the hits Bleve's search
// of it finds, with the same scores, and pages through them alike: a page
// may differ from Bleve's only in which of several equally scored hits it
// holds at its edge.
func TestTermTopAsBleve(t *testing.T) {
	idx, m := scoreIndex(t)
	ctx := context.Background()
	terms := []string{"zebra", "lion", "grass", "w3", "nothing"}
	for n := 2; n <= 60; n += 7 {
		terms = append(terms, fmt.Sprintf("f%d", n))
	}
	var queries []Query
	for _, term := range terms {
		queries = append(queries, Query{Words: []string{term}})
	}
	// Words left out (a boolean query's must-not, as retention's expired
	// clause is): the documents they match are not hits at all.
	queries = append(queries,
		Query{Words: []string{"zebra"}, Exclude: []string{"lion"}},
		Query{Words: []string{"grass"}, Exclude: []string{"f2", "grass w3"}},
		Query{Words: []string{"f3"}, Exclude: []string{"w0"}},
		Query{Words: []string{"lion"}, Exclude: []string{"lion"}})
	for _, qq := range queries {
		term := fmt.Sprintf("%v -%v", qq.Words, qq.Exclude)
		q, _, _ := buildQuery(m, qq, nil)
		tq, not := oneTerm(unwrapped(q))
		if tq == nil {
			t.Fatalf("%s: not unwrapped to its term", term)
		}
		for _, page := range []struct{ size, from int }{{1000, 0}, {7, 0}, {7, 7}, {20, 13}, {5, 290}, {0, 0}, {3, 1000}} {
			sr := bleve.NewSearchRequestOptions(q, page.size, page.from, false)
			sr.SortBy([]string{"-_score"})
			want, err := idx.SearchInContext(ctx, sr)
			if err != nil {
				t.Fatal(err)
			}
			got, err := termTop(ctx, idx, tq, not, page.size, page.from)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != want.Total || len(got.Hits) != len(want.Hits) {
				t.Errorf("%s %+v: %d of %d hits, Bleve %d of %d", term, page, len(got.Hits), got.Total, len(want.Hits), want.Total)
				continue
			}
			scores := map[string]float64{}
			for _, h := range want.Hits {
				scores[h.ID] = h.Score
			}
			for i, h := range got.Hits {
				if h.Score != want.Hits[i].Score {
					t.Errorf("%s %+v: hit %d scores %v, Bleve's %v", term, page, i, h.Score, want.Hits[i].Score)
				}
				if s, ok := scores[h.ID]; ok && s != h.Score {
					t.Errorf("%s %+v: %s scores %v, %v in Bleve", term, page, h.ID, h.Score, s)
				}
			}
			if page.size >= 1000 && qq.Words[0] != "nothing" && qq.Words[0] != "lion" && len(got.Hits) == 0 {
				t.Errorf("%s: no hits; the test proves nothing", term)
			}
			if page.size >= 1000 && len(scores) != len(got.Hits) {
				t.Errorf("%s: whole pages hold different hits", term)
			}
			if page.size >= 1000 {
				for _, h := range got.Hits {
					if _, ok := scores[h.ID]; !ok {
						t.Errorf("%s: %s is not among Bleve's hits", term, h.ID)
					}
				}
			}
		}
	}
	// A cancelled search stops.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	q, _, _ := buildQuery(m, Query{Words: []string{"zebra"}}, nil)
	if _, err := termTop(cctx, idx, unwrapped(q).(normed).Query.(*query.TermQuery), nil, 10, 0); err == nil {
		t.Error("a cancelled search went on")
	}
}
