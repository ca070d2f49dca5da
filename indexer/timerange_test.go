package indexer

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/search/query"
)

// matches evaluates the queries timeRange builds on one document's fields
// and its ID (docID).
func matches(t *testing.T, q query.Query, d document, docID string) bool {
	switch q := q.(type) {
	case *query.MatchAllQuery:
		return true
	case *query.MatchNoneQuery:
		return false
	case *query.DisjunctionQuery:
		for _, c := range q.Disjuncts {
			if matches(t, c, d, docID) {
				return true
			}
		}
		return false
	case *query.TermRangeQuery:
		v := map[string]string{fieldID: docID, fieldDay: d.Day, fieldMonth: d.Month}[q.FieldVal]
		if v == "" {
			t.Fatalf("a range on field %q", q.FieldVal)
		}
		lo := q.Min == "" || v > q.Min || (v == q.Min && *q.InclusiveMin)
		hi := q.Max == "" || v < q.Max || (v == q.Max && *q.InclusiveMax)
		return lo && hi
	}
	t.Fatalf("unexpected query %T", q)
	return false
}

// timeRange must match exactly the documents in [from, to): at day and
// month edges, inside one day, open on either side.
func TestTimeRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2023, 12, 30, 0, 0, 0, 0, time.UTC).UnixMilli()
	pick := func() int64 {
		switch rng.IntN(4) {
		case 0: // midnight
			return base + int64(rng.IntN(70))*dayMS
		case 1: // a month's first
			return time.Date(2024, time.Month(rng.IntN(3)), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		default:
			return base + rng.Int64N(70*dayMS)
		}
	}
	for i := range 3000 {
		from, to := pick(), pick()
		switch i % 5 {
		case 0:
			from = 0
		case 1:
			to = 0
		}
		q := timeRange(from, to)
		for range 40 {
			ts := pick()
			if rng.IntN(3) == 0 {
				ts = max(from+int64(rng.IntN(3))-1, 0) // documents hold no time before 1970
			}
			d := document{TSort: sortableTime(ts), Day: dayOf(ts), Month: monthOf(ts)}
			want := ts >= from && (to == 0 || ts < to)
			if got := matches(t, q, d, docID(ts, uint64(i))); got != want {
				t.Fatalf("timeRange(%s, %s) on %s = %v, want %v", fmtMS(from), fmtMS(to), fmtMS(ts), got, want)
			}
		}
	}
}

func fmtMS(ms int64) string {
	if ms == 0 {
		return "open"
	}
	return fmt.Sprint(time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000"))
}
