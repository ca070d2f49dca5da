package indexer

import (
	"context"
	"math"
	"slices"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/scorer"
	index "github.com/blevesearch/bleve_index_api"
)

// termTop answers a relevance search for one term in one period: the
// hits from the from'th to the from+size'th by score, and how many there
// are, as Bleve's search of the term would, with the same scores to the
// bit. Bleve scores a hit through a searcher, a scorer and a collector,
// each handing on a DocumentMatch: a common word, most of whose hits are
// scored only to be dropped, cost about 145 ns a hit that way against 90
// reading the postings alone (a period of the 3M replay).
//
// Within a period a term's score is the same product for every hit,
// sqrt(frequency) × norm × idf × query weight, and rounding a product by
// a positive constant keeps order, so the hits are ranked on the first
// two factors and only those kept are scored by Bleve's own scorer. Two
// hits whose first factors differ may still score alike; which of them is
// kept at the page's edge then differs from Bleve's choice, as its choice
// among equal scores is arbitrary too (relevant asks for more when a
// period's last hit ties the page's).
//
// not, when not nil, matches the documents to leave out (a boolean query's
// must-not clause), as Bleve's boolean searcher leaves them out: they
// change no score.
func termTop(ctx context.Context, idx bleve.Index, tq *query.TermQuery, not query.Query, size, from int) (*bleve.SearchResult, error) {
	r, err := readerOf(idx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	term := []byte(tq.Term)
	tfr, err := r.TermFieldReader(ctx, term, tq.FieldVal, true, true, false)
	if err != nil {
		return nil, err
	}
	defer tfr.Close()
	docs, err := r.DocCount()
	if err != nil {
		return nil, err
	}
	// As TermQuery.Searcher builds it (TF-IDF), and as normed sets its
	// query norm.
	sc := scorer.NewTermQueryScorer(term, tq.FieldVal, tq.Boost(), docs, tfr.Count(), 0, search.SearcherOptions{})
	sc.SetQueryNorm(1 / math.Sqrt(sc.Weight()))

	// The excluded documents are found in document order, as the postings
	// are read: the searcher is advanced to each hit, never past it.
	var excl search.Searcher
	var exclAt *search.DocumentMatch
	var xctx *search.SearchContext
	if not != nil {
		if excl, err = not.Searcher(ctx, r, idx.Mapping(), search.SearcherOptions{Score: "none"}); err != nil {
			return nil, err
		}
		defer excl.Close()
		xctx = &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(excl.DocumentMatchPoolSize(), 0)}
		if exclAt, err = excl.Next(xctx); err != nil {
			return nil, err
		}
	}

	k := max(from+size, 0)
	res := &bleve.SearchResult{Status: &bleve.SearchStatus{Total: 1, Successful: 1}}
	top := make(rankedHits, 0, k) // a min-heap on rank: top[0] is the first to go
	var d index.TermFieldDoc
	for read := 0; ; read++ {
		if read%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		m, err := tfr.Next(d.Reset())
		if err != nil {
			return nil, err
		}
		if m == nil {
			break
		}
		if exclAt != nil && exclAt.IndexInternalID.Compare(m.ID) < 0 {
			xctx.DocumentMatchPool.Put(exclAt)
			if exclAt, err = excl.Advance(xctx, m.ID); err != nil {
				return nil, err
			}
		}
		if exclAt != nil && exclAt.IndexInternalID.Equals(m.ID) {
			continue
		}
		res.Total++
		rank := sqrtFreq(m.Freq) * m.Norm // the scorer's first product
		switch {
		case len(top) < k:
			top = append(top, rankedHit{rank: rank, freq: m.Freq, norm: m.Norm, id: slices.Clone(m.ID)})
			top.up(len(top) - 1)
		case k > 0 && rank > top[0].rank:
			top[0].rank, top[0].freq, top[0].norm = rank, m.Freq, m.Norm
			top[0].id = append(top[0].id[:0], m.ID...)
			top.down(0)
		}
	}
	sctx := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(len(top), 0)}
	hits := make(search.DocumentMatchCollection, 0, len(top))
	for _, h := range top {
		dm := sc.Score(sctx, &index.TermFieldDoc{ID: h.id, Freq: h.freq, Norm: h.norm})
		ext, err := r.ExternalID(h.id)
		if err != nil {
			return nil, err
		}
		dm.ID, dm.IndexInternalID = ext, nil
		hits = append(hits, dm)
		res.MaxScore = max(res.MaxScore, dm.Score)
	}
	slices.SortFunc(hits, byScore) // equal scores newest first, as relevant merges them
	if from < len(hits) {
		res.Hits = hits[from:]
	}
	return res, nil
}

// sqrtFreq is the term frequency factor as Bleve's scorer computes it.
func sqrtFreq(freq uint64) float64 {
	if freq < scorer.MaxSqrtCache {
		return scorer.SqrtCache[freq]
	}
	return math.Sqrt(float64(freq))
}

type rankedHit struct {
	rank float64
	freq uint64
	norm float64
	id   index.IndexInternalID
}

// rankedHits is a min-heap on rank.
type rankedHits []rankedHit

func (h rankedHits) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].rank <= h[i].rank {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (h rankedHits) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		c := l
		if r := l + 1; r < len(h) && h[r].rank < h[l].rank {
			c = r
		}
		if h[i].rank <= h[c].rank {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
