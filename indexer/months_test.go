package indexer

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"
)

// Walking the index month by month must give exactly the order (and the
// page boundaries) of sorting every hit.
func TestMonthWalkMatchesFullSort(t *testing.T) {
	ix := indexedSample(t, 8000)
	months, _ := months(ix.set.periods[0].idx)
	if len(months) < 3 {
		t.Fatalf("the test corpus spans only %d months", len(months))
	}
	size, maxPages := 15, 10
	pagesOf := func(q Query, limit int, order string) []id.EventID {
		ix.sortAllLimit = limit
		var out []id.EventID
		cur := ""
		for range maxPages {
			res, err := ix.Search(context.Background(), Request{Query: q, Sort: order, Size: size, Cursor: cur})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range res.Events {
				out = append(out, e.ID)
			}
			if cur = res.Next; cur == "" {
				break
			}
		}
		return out
	}
	pages := func(limit int, order string) []id.EventID {
		return pagesOf(Query{Words: []string{"ubuntu"}}, limit, order)
	}
	for _, order := range []string{SortNewest, SortOldest} {
		full, walked := pages(1<<30, order), pages(0, order)
		if len(full) < 100 || !slices.Equal(full, walked) {
			t.Errorf("%s: month walk differs from a full sort (%d vs %d results)", order, len(walked), len(full))
		}
	}
	// Months walked by their days (any month expected to hold more than
	// dayWalkFactor pages' worth): the same pages, page after page, with
	// cursors that fall inside the months walked by day.
	ix.dayWalkHits, size, maxPages = 1, 2, 60
	for _, order := range []string{SortNewest, SortOldest} {
		before := ix.dayWindows.Load()
		full, walked := pages(1<<30, order), pages(0, order)
		if len(full) < 100 || !slices.Equal(full, walked) {
			t.Errorf("%s: the walk by days differs from a full sort (%d vs %d results)", order, len(walked), len(full))
		}
		if ix.dayWindows.Load() == before {
			t.Errorf("%s: no month was walked by its days", order)
		}
	}
	ix.dayWalkHits, size, maxPages = dayWalkHits, 15, 10
	// Where the dictionaries bound one word of two but the count of
	// their hits stays under the limit, the count's own hits are sorted
	// (walk.docs): the same pages as Bleve's sort and as the walk.
	for _, qs := range []string{"how install", "the ubuntu", `"sudo apt-get install"`, `"apt-get install" -sudo`} {
		pq, err := ParseQuery(qs)
		if err != nil {
			t.Fatal(err)
		}
		idx := ix.set.periods[0].idx
		q, _, clauses := buildQuery(idx.Mapping(), pq, nil)
		bound, err := upperBound(context.Background(), idx, clauses)
		if err != nil {
			t.Fatal(err)
		}
		hits, _, err := countUpTo(context.Background(), idx, q, 1<<30, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ix.set.periods) != 1 || hits < 15 || bound <= hits {
			t.Fatalf("%s: %d periods, %d hits, bound %d: the counted sort is not tried", qs, len(ix.set.periods), hits, bound)
		}
		for _, order := range []string{SortNewest, SortOldest} {
			full, counted, walked := pagesOf(pq, 1<<30, order), pagesOf(pq, int(hits), order), pagesOf(pq, 0, order)
			if !slices.Equal(full, counted) || !slices.Equal(full, walked) {
				t.Errorf("%s, %s: sorted by Bleve %d results, from the count %d, walked %d, or in another order", qs, order, len(full), len(counted), len(walked))
			}
		}
	}
	// Within dates that start and end inside months, and within a room:
	// the walk's days and the filter's must agree at the edges.
	for _, q := range []string{"ubuntu after:2004-12-10 before:2005-07-20", "ubuntu in:!ubuntu-0:bench.example", "the after:2005-01-05"} {
		pq, err := ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, order := range []string{SortNewest, SortOldest} {
			full, walked := pagesOf(pq, 1<<30, order), pagesOf(pq, 0, order)
			if len(full) < 50 || !slices.Equal(full, walked) {
				t.Errorf("%q, %s: the walk differs from a full sort (%d vs %d results)", q, order, len(walked), len(full))
			}
		}
	}
}

// monthDays lists a month's days in the walk's order from the cursor's day,
// and none for a month it cannot read, which windows then walks whole.
func TestMonthDays(t *testing.T) {
	feb := monthDays("2024-02", SortOldest, cursor{})
	if len(feb) != 29 || feb[0] != "2024-02-01" || feb[28] != "2024-02-29" {
		t.Errorf("February 2024 oldest first: %v", feb)
	}
	if apr := monthDays("2026-04", SortNewest, cursor{}); len(apr) != 30 || apr[0] != "2026-04-30" || apr[29] != "2026-04-01" {
		t.Errorf("April 2026 newest first: %v", apr)
	}
	at := strconv.FormatInt(time.Date(2026, 4, 12, 15, 0, 0, 0, time.UTC).UnixMilli(), 10)
	if d := monthDays("2026-04", SortNewest, cursor{After: []string{at, "$e"}}); len(d) != 12 || d[0] != "2026-04-12" {
		t.Errorf("April 2026 newest first after the 12th, 15:00: %v", d)
	}
	if d := monthDays("2026-04", SortOldest, cursor{After: []string{at, "$e"}}); len(d) != 19 || d[0] != "2026-04-12" {
		t.Errorf("April 2026 oldest first after the 12th, 15:00: %v", d)
	}
	if d := monthDays("2026-05", SortOldest, cursor{After: []string{at, "$e"}}); len(d) != 31 {
		t.Errorf("May 2026 after a cursor in April: %v", d)
	}
	far := monthOf(1_000_000_000_000_000)
	if d := monthDays(far, SortNewest, cursor{}); d != nil {
		t.Errorf("month %s: %v", far, d)
	}
}
