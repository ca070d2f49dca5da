package indexer

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/blevesearch/bleve/v2/search/searcher"
	index "github.com/blevesearch/bleve_index_api"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// Sort orders of search results.
const (
	SortRelevance = "relevance"
	SortNewest    = "newest"
	SortOldest    = "oldest"
)

// Bounds on a search's cost.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxOffset bounds how deep relevance results can be paged: deep
	// offsets cost the index linearly, and nobody reads result 1,001.
	MaxOffset = 1000
)

// ErrBadRequest wraps errors caused by the request, not the archive.
var ErrBadRequest = errors.New("bad search request")

// Request is one search.
type Request struct {
	Query Query
	// Sort is SortRelevance (the default), SortNewest or SortOldest.
	Sort   string
	Size   int
	Cursor string
}

// Result is one page of verified results.
type Result struct {
	// Events are the matching messages, checked against the store: public,
	// not redacted, in a room that is shown.
	Events []store.Event
	// Next is the cursor of the next page, "" on the last.
	Next string
	// Total counts verified results: this page's, the earlier pages' (the
	// cursor carries them, signed: cursor.Sum) and the one that shows a
	// next page exists. Exact: the index has no more hits and every page
	// was counted here, so Total is every match; otherwise it is a lower
	// bound. Readers are shown only this: the index's own
	// count includes hits the check against the store rejects, and so
	// would tell what a reader may not see.
	Total uint64
	Exact bool
	// IndexEstimate is the index's count of hits (expired messages never
	// match), before the check against the store: for measurements, never
	// for readers.
	IndexEstimate uint64
	// Rooms are the Events' rooms as the check read them, for showing
	// the results without reading them again.
	Rooms map[id.RoomID]store.Room
}

type cursor struct {
	Offset int      `json:"o,omitempty"`
	After  []string `json:"a,omitempty"`
	// Verified counts the results of the pages before, for Total.
	Verified uint64 `json:"n,omitempty"`
	// Sum signs the cursor as this process made it, for this query and
	// sort (cursorSum): only then is its Verified taken.
	Sum string `json:"s,omitempty"`
}

// cursorKey signs the counts cursors carry. A cursor is a link anyone can
// write, and nothing in a time-ordered one bounds its count (a relevance
// one's is at most its offset): one with "n" set to 10^12 had the archive
// say "1000000000002 matches." of a word two messages hold, in its page
// and its API alike. Bounding the count by the hits before the cursor
// would cost a count of them on every page. The key lives as long as the
// process: a cursor made before a restart, or by another server, still
// pages, its count taken as unknown (cursorSum).
var cursorKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k) // never fails (crypto/rand)
	return k
}()

// cursorSum signs c (without its Sum) for a search's sort and query: a
// count made for one search is no count of another's. Sixteen bytes of
// HMAC-SHA256.
func cursorSum(c cursor, sort string, q Query) string {
	c.Sum = ""
	b, _ := json.Marshal(c)
	m := hmac.New(sha256.New, cursorKey)
	m.Write([]byte(sort))
	m.Write([]byte{0})
	m.Write([]byte(q.String()))
	m.Write([]byte{0})
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// decodeCursor reads a cursor made for the given sort: an offset for
// relevance, the last hit's sort keys (time and ID) for the others. Bleve
// trusts search-after keys to match the sort, so a forged one must stop
// here with a 400, not panic inside it.
func decodeCursor(s, sort string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	ok := err == nil && json.Unmarshal(b, &c) == nil && c.Offset >= 0 && c.Offset <= MaxOffset
	if sort == SortRelevance {
		// No more results can have been verified than hits looked at.
		ok = ok && len(c.After) == 0 && c.Verified <= uint64(c.Offset)
	} else {
		ok = ok && c.Offset == 0 && (len(c.After) == 0 || (len(c.After) == 2 && len(c.After[0]) == len(sortableTime(0)) &&
			strings.Trim(c.After[0], "0123456789") == ""))
	}
	if !ok {
		return cursor{}, fmt.Errorf("%w: the page cursor is not one this archive made for this sort", ErrBadRequest)
	}
	return c, nil
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Search runs a request against the index and checks every hit against the
// store before returning it.
func (ix *Indexer) Search(ctx context.Context, req Request) (Result, error) {
	if ix.wrongKeys.Load() {
		// Every hit of an index named by another store's keys would be
		// dropped by the check: it would say "no results" for everything.
		return Result{}, ErrRebuilding
	}
	// One look at the change feed for the whole search (its cutoffs and
	// every round's check screen alike): on PostgreSQL each look is a
	// round trip to another process.
	ctx = ix.store.ScreenOnce(ctx)
	var res Result
	if req.Size <= 0 {
		req.Size = DefaultPageSize
	}
	req.Size = min(req.Size, MaxPageSize)
	switch req.Sort {
	case "":
		req.Sort = SortRelevance
	case SortRelevance, SortNewest, SortOldest:
	default:
		return res, fmt.Errorf("%w: sort must be relevance, newest or oldest", ErrBadRequest)
	}
	cur, err := decodeCursor(req.Cursor, req.Sort)
	if err != nil {
		return res, err
	}
	// A count this process did not sign is not taken: the results are
	// counted from this page on, and Total is a lower bound (not Exact)
	// on every page after (their cursors are left unsigned).
	counted := req.Cursor == "" || hmac.Equal([]byte(cur.Sum), []byte(cursorSum(cur, req.Sort, req.Query)))
	if !counted {
		cur.Verified = 0
	}
	rooms, err := ix.resolveRooms(ctx, req.Query.In)
	if err != nil {
		return res, err
	}
	cutoffs, err := ix.store.ExpiryCutoffs(ctx)
	if err != nil {
		return res, fmt.Errorf("search: %w", err)
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.set == nil {
		return res, errNoIndex
	}
	q, check, clauses := buildQuery(ix.set.periods[0].idx.Mapping(), req.Query, rooms)
	// Expired messages must not match at all: the check against the
	// store drops them, but until the purge (never, in an archive that
	// only imports) or DropExpired deletes them, their hits would weigh
	// on walks and counts.
	expired, err := ix.expiredQuery(cutoffs, rooms)
	if err != nil {
		return res, fmt.Errorf("search: %w", err)
	}
	if b, ok := q.(*query.BooleanQuery); ok && expired != nil {
		b.AddMustNot(expired)
	}
	// A search of every room leaves out the rooms that ask not to be
	// listed (shown): in the query too, or a busy one's hits, dropped
	// after it, could leave every round of a page empty.
	if b, ok := q.(*query.BooleanQuery); ok && len(rooms) == 0 && len(cutoffs.Unlisted) > 0 {
		b.AddMustNot(roomsQuery(cutoffs.Unlisted))
	}
	// The months a time-ordered search may visit are read once per
	// request, not per round.
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}, listing: true} // for this request's rounds
	var within monthRange
	if req.Sort != SortRelevance {
		if within, err = ix.bounds(ctx, req.Query, rooms, rc); err != nil {
			return res, err
		}
	}
	// Fetch a little more than a page: some hits may fail the check
	// against the store (redacted since they were indexed). Each kept
	// event remembers where the index stands just after it, so the next
	// page resumes right after the last event returned.
	want := req.Size + 1
	res.Events = make([]store.Event, 0, want)
	resume := make([]cursor, 0, want)
	more := false // the index may hold more hits past cur
	for round := 0; round < 3 && len(res.Events) < want; round++ {
		fetch := want + want/2
		hits, total, err := ix.hits(ctx, q, clauses, within, req.Sort, fetch, cur)
		if err != nil {
			return res, fmt.Errorf("search: %w", err)
		}
		res.IndexEstimate = total
		verified, err := ix.verify(ctx, hits, req.Query, rooms, check, rc)
		if err != nil {
			return res, err
		}
		for i, h := range hits {
			if len(res.Events) == want {
				break
			}
			// The cursor moves past every hit looked at, kept or not.
			if req.Sort == SortRelevance {
				cur.Offset++
			} else {
				cur.After = h.Sort
			}
			if e := verified[i]; e != nil {
				res.Events = append(res.Events, *e)
				resume = append(resume, cur)
			}
		}
		more = len(hits) == fetch
		if !more {
			break // the index has no more
		}
	}
	// A room the archive does not show is no room to search, by ID as
	// by alias, with the same answer as one it never had: a mistyped ID
	// read as a search without matches (helper-98). The rooms are those
	// read already (the hits', the filter's bounds) unless none was.
	if err := rc.fillRooms(ctx, rooms); err != nil {
		return res, fmt.Errorf("search: %w", err)
	}
	for i, r := range rooms {
		if room, ok := rc.rooms[r]; !ok || !room.Shown() {
			return Result{}, fmt.Errorf("%w: this archive has no room %s", ErrBadRequest, req.Query.In[i])
		}
	}
	res.Rooms = make(map[id.RoomID]store.Room)
	for _, e := range res.Events {
		res.Rooms[e.RoomID] = rc.rooms[e.RoomID]
	}
	next := cur
	before := cur.Verified // the cursor's count: it moved past hits, not pages
	res.Total = before + uint64(len(res.Events))
	switch {
	case len(res.Events) > req.Size:
		res.Events = res.Events[:req.Size]
		next = resume[req.Size-1]
	case !more:
		res.Exact = counted
		return res, nil
	}
	next.Verified, next.Sum = before+uint64(len(res.Events)), ""
	if counted {
		next.Sum = cursorSum(next, req.Sort, req.Query)
	}
	// A short page with more to look at (many hits failed the check) still
	// gets a cursor, past every hit looked at.
	if req.Sort != SortRelevance || next.Offset < MaxOffset {
		res.Next = next.encode()
	}
	return res, nil
}

// expiredQuery matches the documents retention has expired under the
// cutoffs, in the given rooms (all if none); nil when nothing expires. The
// rooms under the default cutoff take one clause whatever their number;
// each room with a policy of its own takes one. Cutoffs move with the
// clock, so a search adds this to its query rather than trusting the
// documents to be gone.
func (ix *Indexer) expiredQuery(cut store.Cutoffs, rooms []id.RoomID) (query.Query, error) {
	expires := cut.Default > 0
	for _, c := range cut.Rooms {
		expires = expires || c > 0
	}
	if !expires {
		return nil, nil
	}
	// Before a time: whole months by their term, whole days of the
	// cutoff's month by theirs, and only the cutoff's own day by the time
	// (timeRange). A range over all of expired history by the time itself
	// is a disjunction of hundreds of terms that every candidate hit must
	// advance through (a relevance search on 55k messages, most of them
	// expired, went from 1 ms to 30 ms; by months, 7 ms, and 1.4 ms once
	// DropExpired had run); months are a few dozen.
	before := func(ms int64) query.Query { return timeRange(0, ms) }
	inRoom := func(r id.RoomID) query.Query {
		t := bleve.NewTermQuery(string(r))
		t.SetField(fieldRoom)
		return t
	}
	// Only the rooms the query can match matter.
	var own []id.RoomID
	for r := range cut.Rooms {
		if len(rooms) == 0 || slices.Contains(rooms, r) {
			own = append(own, r)
		}
	}
	slices.Sort(own)
	var any []query.Query
	if cut.Default > 0 {
		d := bleve.NewBooleanQuery()
		d.AddMust(before(cut.Default))
		for _, r := range own {
			d.AddMustNot(inRoom(r))
		}
		any = append(any, d)
	}
	for _, r := range own {
		if c := cut.Rooms[r]; c > 0 {
			any = append(any, bleve.NewConjunctionQuery(inRoom(r), before(c)))
		}
	}
	if len(any) == 0 {
		return nil, nil
	}
	return bleve.NewDisjunctionQuery(any...), nil
}

// roomsQuery matches the documents of the given rooms.
func roomsQuery(rooms map[id.RoomID]bool) query.Query {
	ids := slices.Sorted(maps.Keys(rooms))
	any := make([]query.Query, len(ids))
	for i, r := range ids {
		t := bleve.NewTermQuery(string(r))
		t.SetField(fieldRoom)
		any[i] = t
	}
	return bleve.NewDisjunctionQuery(any...)
}

// Hit counts up to which a time-ordered search sorts every hit rather than
// walking month by month.
//
// In one period (sortAllLimit): sorting costs about a microsecond a hit
// (its ID is read), a month walk a bitmap union per window (unscored,
// Bleve ORs a window's month postings whole); a rare term with 650 hits,
// newest first at 1M messages, took 3.9 ms walked and 0.6 sorted.
//
// Over all periods at once (atOnceLimit): every period's hits are sorted,
// where asking the periods one by one, newest first, usually stops after
// the first; that pays only when the hits are too few per period for
// one to fill a page (a rare term with 2,244 hits in 8 periods: 2.0 ms at
// once, 0.6 one by one).
const (
	sortAllLimit = 2000
	atOnceLimit  = 500
)

// A month walked with more hits expected than dayWalkHits, and more than
// dayWalkFactor times those the page still wants, is walked by its days
// (windows).
const (
	dayWalkHits   = 1000
	dayWalkFactor = 8
)

// hits asks the index for n hits after the cursor, in the given order, and
// an estimate of their total.
//
// Relevance asks every period at once (relevant). A time-ordered search asks the periods one by one, newest (or oldest)
// first, and stops once it has n hits that no period still unasked can
// beat: the n-th hit's time lies beyond that period's bounds. Periods hold
// whole stretches of time, so a page is usually found in the first one.
func (ix *Indexer) hits(ctx context.Context, q query.Query, clauses []clause, within monthRange, order string, n int, cur cursor) (search.DocumentMatchCollection, uint64, error) {
	if order == SortRelevance {
		return ix.set.relevant(ctx, q, n, cur.Offset)
	}
	periods := ix.set.inOrder(order, within, cur)
	periods, rare, err := ix.rarePeriods(ctx, periods, clauses)
	if err != nil {
		return nil, 0, err
	}
	if rare {
		return ix.atOnce(ctx, periods, q, order, n, cur)
	}
	var out search.DocumentMatchCollection
	var total uint64
	for _, p := range periods {
		w, later := within, false
		if len(out) >= n {
			ts, _ := strconv.ParseInt(out[n-1].Sort[0], 10, 64)
			if (order == SortNewest && p.hi.Load() < ts) || (order == SortOldest && p.lo.Load() > ts) {
				break
			}
			// Periods overlap in time (a closed one keeps what it held
			// past its successor's start; an archive of many imports
			// overlaps widely): this one can only add hits from the n-th
			// hit's month on, in this order.
			later = true
			if order == SortNewest {
				w.first = max(w.first, monthOf(ts))
			} else {
				w.last = min(w.last, monthOf(ts))
			}
		}
		if ix.asked != nil {
			ix.asked(p.Dir)
		}
		plan, err := ix.planWalk(ctx, p, q, order, w, clauses, later, n)
		if err != nil {
			return nil, 0, err
		}
		hs, t, err := ix.walk(ctx, p.idx, ix.set.legacy, q, plan, order, n, cur)
		if err != nil {
			return nil, 0, err
		}
		total += t
		out = mergeHits(out, hs, order, n)
	}
	return out, total, nil
}

// rarePeriods leaves out the periods whose dictionaries say they cannot
// hold a hit, and says whether the rest hold few enough hits together
// (atOnceLimit) to be asked at once. A rare word is spread thin over
// time: asked one by one, newest first, every period cost a search of its
// own for a hit or two (a rare term newest first at 1M messages: p99
// 21 ms, against 5.7 in one index), where a dictionary lookup tells which
// periods hold it.
func (ix *Indexer) rarePeriods(ctx context.Context, periods []*period, clauses []clause) ([]*period, bool, error) {
	if len(periods) < 2 || len(clauses) == 0 || ix.set.legacy {
		return periods, false, nil
	}
	var kept []*period
	var sum int64
	for i, p := range periods {
		if sum > int64(ix.atOnceLimit) {
			// Too many to ask at once already: the rest are asked one
			// by one, in order, and a walk seldom reaches them (each
			// bound read cost every period's dictionaries: a phrase
			// newest first at 3M, 28 periods, 0.4 of its 2.5 ms).
			return append(kept, periods[i:]...), false, nil
		}
		ix.periodBounds.Add(1)
		b, err := upperBound(ctx, p.idx, clauses)
		if err != nil {
			return nil, false, err
		}
		if b > 0 {
			kept = append(kept, p)
			sum += b
		}
	}
	return kept, sum <= int64(ix.atOnceLimit), nil
}

// atOnce asks every period for its first n hits after the cursor, sorting
// all of each one's hits (there are few), concurrently, and merges them.
func (ix *Indexer) atOnce(ctx context.Context, periods []*period, q query.Query, order string, n int, cur cursor) (search.DocumentMatchCollection, uint64, error) {
	results := make([]*bleve.SearchResult, len(periods))
	errs := make([]error, len(periods))
	var wg sync.WaitGroup
	for i, p := range periods {
		if ix.asked != nil {
			ix.asked(p.Dir)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runSearch(ctx, p.idx, false, q, order, n, cur)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	var out search.DocumentMatchCollection
	var total uint64
	for _, r := range results {
		out = mergeHits(out, r.Hits, order, n)
		total += r.Total
	}
	return out, total, nil
}

// relevant asks every period for its best offset+n hits, at once, and
// returns the n after offset of their merge by score, equal scores newest
// first (byScore). Bleve orders a period's equal scores by its documents'
// order in its segments, which a merge between two pages can change, and
// keeps of a run of equal scores that crosses the end of what it returns
// those first in that order: pages taken from it repeated or skipped hits
// of equal score (an IRC channel's short lines often score alike). So a
// period is asked for one hit more than the page needs, and a period
// whose last hit returned has the score the page ends with may hold more
// of that run: it is asked again for twice as many, until the run ends
// within what it returned (at most tieHits more; past that a run is cut
// in the period's own order). Every hit's ID is loaded by Bleve for the
// hits it returns anyway; ordering all of a period's hits by ID instead
// would load every hit's, which a common word's search cannot afford.
func (s *shards) relevant(ctx context.Context, q query.Query, n, offset int) (search.DocumentMatchCollection, uint64, error) {
	k := offset + n
	q = unwrapped(q)
	results := make([]*bleve.SearchResult, len(s.periods))
	sizes := make([]int, len(s.periods))
	ask := make([]int, len(s.periods))
	for i := range s.periods {
		sizes[i], ask[i] = k+1, i
	}
	var all search.DocumentMatchCollection
	var total uint64
	for {
		errs := make([]error, len(ask))
		var wg sync.WaitGroup
		for j, i := range ask {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[j] = runSearch(ctx, s.periods[i].idx, s.legacy, q, SortRelevance, sizes[i], cursor{})
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, 0, err
		}
		all, total = all[:0], 0
		for _, r := range results {
			all = append(all, r.Hits...)
			total += r.Total
		}
		slices.SortFunc(all, byScore)
		if len(all) <= k {
			break // no period was cut short
		}
		last := all[k-1].Score
		ask = ask[:0]
		for i, r := range results {
			more := len(r.Hits) == sizes[i] && r.Total > uint64(len(r.Hits)) // it holds hits it did not return
			if more && r.Hits[len(r.Hits)-1].Score >= last && sizes[i] < k+1+tieHits {
				sizes[i] = min(2*sizes[i], k+1+tieHits)
				ask = append(ask, i)
			}
		}
		if len(ask) == 0 {
			break
		}
	}
	if offset >= len(all) {
		return nil, total, nil
	}
	return all[offset:min(len(all), offset+n)], total, nil
}

// unwrapped is q without the layers Bleve puts around a query of one
// condition, for relevance: a boolean query of one required clause
// searches it through a conjunction of one, which costs every hit a
// scorer's round and a pass through the conjunction's loop (a common word
// at 3M messages: 20 → 15-17 ms p50, 26-29 → 21-22 p99). The scores stay
// the same to the bit: normed sets the query norm the conjunction set
// (TestUnwrappedScoresAsWrapped). Time-ordered searches keep the layers:
// they add their windows to the query's conjunction (narrowed).
//
// Excluded words and expired messages (a must-not clause) stay excluded:
// such a query becomes an excluding, the one condition without the
// conjunction and the exclusion as Bleve's boolean searcher applies it,
// which leaves the scores as they were too.
func unwrapped(q query.Query) query.Query {
	b, ok := q.(*query.BooleanQuery)
	if !ok || b.Should != nil || b.Filter != nil {
		return q
	}
	c, ok := b.Must.(*query.ConjunctionQuery)
	if !ok || len(c.Conjuncts) != 1 {
		return q
	}
	one := c.Conjuncts[0]
	for {
		// A phrase of two words was a conjunction of its one pair
		// (format 7 or older).
		c, ok := one.(*query.ConjunctionQuery)
		if !ok || len(c.Conjuncts) != 1 {
			break
		}
		one = c.Conjuncts[0]
	}
	if b.MustNot != nil {
		return excluding{normed{one}, b.MustNot}
	}
	return normed{one}
}

// unscored searches its query without scoring it: a phrase's pairs'
// buckets, whose postings hold a frequency of 0 and no length (textField),
// so a score would be 0 × 1/sqrt(0), not a number. Unscored, a conjunction
// of terms is Bleve's "unadorned" one: their postings intersected as
// bitmaps, no frequencies read, walked as one beside the phrase's scored
// words. Each bucket unscored on its own, in one conjunction with the
// words, made a phrase by relevance 15-40% slower than format 10's
// (archive-bench search, alternated builds); walked as one, on par.
type unscored struct{ query.Query }

func (q unscored) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	options.Score = "none"
	return q.Query.Searcher(ctx, i, m, options)
}

// excluding searches its normed query without the documents not matches,
// as a boolean query of them would.
type excluding struct {
	normed
	not query.Query
}

func (q excluding) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	must, err := q.normed.Searcher(ctx, i, m, options)
	if err != nil {
		return nil, err
	}
	not, err := q.not.Searcher(ctx, i, m, options)
	if err != nil {
		must.Close()
		return nil, err
	}
	s, err := searcher.NewBooleanSearcher(ctx, i, must, nil, not, options)
	if err != nil {
		must.Close()
		not.Close()
		return nil, err
	}
	return s, nil
}

// oneTerm is the term an unwrapped query searches and what it excludes
// (nil for nothing); a nil term when it searches something else.
func oneTerm(q query.Query) (*query.TermQuery, query.Query) {
	var one, not query.Query
	switch q := q.(type) {
	case normed:
		one = q.Query
	case excluding:
		one, not = q.Query, q.not
	}
	tq, ok := one.(*query.TermQuery)
	if !ok {
		return nil, nil
	}
	return tq, not
}

// normed searches its query as a conjunction of it alone would, but
// without the conjunction.
type normed struct{ query.Query }

func (q normed) Searcher(ctx context.Context, i index.IndexReader, m mapping.IndexMapping, options search.SearcherOptions) (search.Searcher, error) {
	s, err := q.Query.Searcher(ctx, i, m, options)
	if err != nil {
		return nil, err
	}
	s.SetQueryNorm(1 / math.Sqrt(s.Weight())) // as ConjunctionSearcher.computeQueryNorm
	return s, nil
}

// tieHits bounds how many hits past a page's end relevant asks a period
// for to finish a run of equal scores.
const tieHits = 1000

// byScore orders relevance hits: by score, highest first, and equal scores
// newest first (runSearch gives each hit its time and event ID as Sort;
// hits of an index of the legacy layout are ordered by ID).
func byScore(x, y *search.DocumentMatch) int {
	if c := cmp.Compare(y.Score, x.Score); c != 0 {
		return c
	}
	if len(x.Sort) == 2 && len(y.Sort) == 2 {
		if c := strings.Compare(y.Sort[0], x.Sort[0]); c != 0 {
			return c
		}
		return strings.Compare(y.Sort[1], x.Sort[1])
	}
	return strings.Compare(y.ID, x.ID)
}

// inOrder lists the periods a time-ordered search may need, in the order
// to ask them: by their newest time for newest first, by their oldest for
// oldest first. Periods outside the search's months, empty ones, and those
// wholly on the cursor's earlier side are left out.
func (s *shards) inOrder(order string, within monthRange, cur cursor) []*period {
	c := int64(-1)
	if len(cur.After) > 0 {
		c, _ = strconv.ParseInt(cur.After[0], 10, 64)
	}
	var out []*period
	for _, p := range s.periods {
		lo, hi := p.lo.Load(), p.hi.Load()
		switch {
		case lo > hi, monthOf(hi) < within.first, monthOf(lo) > within.last:
		case c >= 0 && order == SortNewest && lo > c:
		case c >= 0 && order == SortOldest && hi < c:
		default:
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *period) int {
		if order == SortNewest {
			return cmp.Compare(b.hi.Load(), a.hi.Load())
		}
		return cmp.Compare(a.lo.Load(), b.lo.Load())
	})
	return out
}

// mergeHits merges two lists of hits sorted in the given order (by
// document ID, as the index sorts them: by time, then by the event ID as
// encoded) and keeps the first n.
func mergeHits(a, b search.DocumentMatchCollection, order string, n int) search.DocumentMatchCollection {
	out := append(a, b...)
	// Each hit's key is made once, not in every comparison: a merge of
	// a few dozen hits made hundreds of document IDs.
	type keyed struct {
		key string
		hit *search.DocumentMatch
	}
	ks := make([]keyed, len(out))
	for i, h := range out {
		ts, _ := strconv.ParseInt(h.Sort[0], 10, 64)
		ks[i] = keyed{refDocID(ts, h.Sort[1]), h}
	}
	slices.SortStableFunc(ks, func(x, y keyed) int {
		c := cmp.Compare(x.key, y.key)
		if order == SortNewest {
			return -c
		}
		return c
	})
	for i := range ks {
		out[i] = ks[i].hit
	}
	return out[:min(len(out), n)]
}

// runSearch asks one index for size hits after the cursor. Its hits name
// events (ID) and, sorted by time, carry the cursor's keys (Sort: time,
// event ID) whatever the layout: an index of format 5 or later sorts by its
// document IDs, which begin with the time (docID); an older one (legacy)
// by its time field's doc values.
func runSearch(ctx context.Context, idx bleve.Index, legacy bool, q query.Query, order string, size int, cur cursor) (*bleve.SearchResult, error) {
	if order == SortRelevance && !legacy {
		if tq, not := oneTerm(q); tq != nil {
			res, err := termTop(ctx, idx, tq, not, size, cur.Offset)
			if err != nil {
				return nil, err
			}
			return withTimes(res), nil
		}
	}
	sr := bleve.NewSearchRequestOptions(q, size, 0, false)
	switch {
	case order == SortRelevance:
		// Score alone: a time tie-breaker would load every hit's
		// timestamp, which dominated the cost of common terms.
		sr.SortBy([]string{"-_score"})
		sr.From = cur.Offset
	case legacy && order == SortNewest:
		sr.SortBy([]string{"-" + fieldTSort, "-_id"})
	case legacy:
		sr.SortBy([]string{fieldTSort, "_id"})
	case order == SortNewest:
		sr.SortBy([]string{"-_id"})
	default:
		sr.SortBy([]string{"_id"})
	}
	if order != SortRelevance {
		// Time orders need no score. Unscored, Bleve's term readers skip
		// term frequencies and norms: advancing a month's postings to a
		// rare word's next hit is then a bitmap seek, where decoding every
		// frequency skipped cost most of a rare term's walk (newest
		// first at 1M messages: 6 ms p50).
		sr.Score = "none"
	}
	if order != SortRelevance && cur.After != nil {
		sr.SearchAfter = cur.After
		if !legacy {
			ts, _ := strconv.ParseInt(cur.After[0], 10, 64) // decodeCursor checked its digits
			sr.SearchAfter = []string{refDocID(ts, cur.After[1])}
		}
	}
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil || legacy {
		return res, err
	}
	return withTimes(res), nil
}

// withTimes gives each hit of this layout its event ID and its time and ID
// as Sort.
func withTimes(res *bleve.SearchResult) *bleve.SearchResult {
	for _, h := range res.Hits {
		ts, ref, ok := splitDocID(h.ID)
		if !ok {
			// Not one this layout wrote; the store check drops it. Its
			// Sort still has the shape byScore compares.
			h.Sort = []string{"", h.ID}
			continue
		}
		h.ID = ref
		// A new slice: Bleve may share one among hits sorted by score.
		h.Sort = []string{sortableTime(ts), ref}
	}
	return res
}

// walk asks one period for n hits after the cursor, in time order.
//
// Sorting by time costs Bleve a timestamp load per matching document: a
// common term sorted newest first cost 150 ms at 1M messages in one index.
// So a search that may have many hits in the period walks its months
// (fieldMonth) from the cursor's month on, newest or oldest first, sorting
// only the hits of the months visited, and stops as soon as it has n:
// whatever it has by then is the period's true page. It does not count all
// hits first (that cost as much as the walk): whether to walk is decided
// on an upper bound read from the term dictionaries, and the total is
// extrapolated from the months visited.
func (ix *Indexer) walk(ctx context.Context, idx bleve.Index, legacy bool, q query.Query, plan walk, order string, n int, cur cursor) (search.DocumentMatchCollection, uint64, error) {
	if plan.docs != nil {
		return sorted(plan.docs, order, n, cur), uint64(len(plan.docs)), nil
	}
	if plan.sortAll {
		res, err := runSearch(ctx, idx, legacy, q, order, n, cur)
		if err != nil {
			return nil, 0, err
		}
		return res.Hits, res.Total, nil
	}
	bound, months := plan.bound, plan.months
	// Start at the cursor's month: everything before it in this order was
	// on earlier pages.
	if len(cur.After) > 0 {
		if ms, err := strconv.ParseInt(cur.After[0], 10, 64); err == nil {
			start := monthOf(ms)
			if k := slices.Index(months, start); k >= 0 {
				months = months[k:]
			}
		}
	}
	// Visit windows of months sized so that each is expected to hold the
	// hits still wanted, and doubling while they fall short: a rare term
	// needs few queries, a common one sorts a single month. The density is
	// guessed from the bound at first, then from what the windows found.
	perMonth := float64(max(n, 1)) // no bound: try one month first
	switch {
	case plan.perMonth > 0:
		perMonth = plan.perMonth
	case bound >= 0:
		perMonth = float64(bound) / float64(max(len(months), 1))
	case plan.atLeast > 0:
		perMonth = float64(plan.atLeast) / float64(max(len(months), 1))
	}
	out, total, err := ix.windows(ctx, idx, legacy, q, fieldMonth, months, perMonth, order, n, cur)
	if bound >= 0 {
		total = min(total, uint64(bound))
	}
	return out, total, err
}

// windows visits terms of field (months, or a month's days) in the walk's
// order, in windows sized so that each is expected to hold the hits still
// wanted at perTerm hits a term, and growing while they fall short; it
// stops with n hits. total is the hits of the terms visited, extrapolated
// over the rest.
//
// A month expected to hold more than dayWalkHits hits, many times what
// the page still wants, is walked by its days (fieldDay) in the same way:
// sorting a whole month took each of its hits' IDs (a common word, oldest
// first, in the bursty replay's busiest month: 6,100 hits, 3 ms of a
// 3.8 ms search). An index of format 4 or older (legacy) has months only.
func (ix *Indexer) windows(ctx context.Context, idx bleve.Index, legacy bool, q query.Query, field string, terms []string, perTerm float64, order string, n int, cur cursor) (search.DocumentMatchCollection, uint64, error) {
	var out search.DocumentMatchCollection
	var seen uint64 // hits in the terms visited
	visited := 0
	span := windowSpan(n, perTerm)
	for visited < len(terms) {
		need := n - len(out)
		var days []string
		if field == fieldMonth && span == 1 && !legacy && ix.dayWalkHits > 0 &&
			perTerm > float64(max(ix.dayWalkHits, dayWalkFactor*need)) {
			days = monthDays(terms[visited], order, cur)
		}
		if len(days) > 0 {
			hits, monthTotal, err := ix.windows(ctx, idx, legacy, q, fieldDay, days, perTerm/float64(len(days)), order, need, cur)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, hits...)
			seen += monthTotal
			visited++
		} else {
			window := terms[visited:min(visited+span, len(terms))]
			in := make([]query.Query, len(window))
			for k, m := range window {
				t := bleve.NewTermQuery(m)
				t.SetField(field)
				in[k] = t
			}
			res, err := runSearch(ctx, idx, legacy, narrowed(q, bleve.NewDisjunctionQuery(in...)), order, need, cur)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, res.Hits...)
			seen += res.Total
			visited += len(window)
		}
		if field == fieldDay {
			ix.dayWindows.Add(1)
		} else {
			ix.monthWindows.Add(1)
		}
		if len(out) >= n {
			break
		}
		// A window with no hits says little (the newest months of an
		// archive are often thin): count it as one hit, and never grow
		// more than eightfold at once, or one empty month would send
		// the next window over the whole archive.
		perTerm = float64(max(seen, 1)) / float64(visited)
		span = min(max(span*2, windowSpan(n-len(out), perTerm)), span*8)
	}
	total := seen
	if rest := len(terms) - visited; rest > 0 {
		total += uint64(float64(seen) / float64(visited) * float64(rest))
	}
	return out, total, nil
}

// monthDays lists the days ("2026-03-14") of a month ("2026-03") in the
// walk's order, from the cursor's day when the cursor lies in the month
// (the days before it in this order were on earlier pages); none for a
// month it cannot read (a year past 9999), which is walked whole.
func monthDays(month, order string, cur cursor) []string {
	first, err := time.Parse("2006-01", month)
	if err != nil {
		return nil
	}
	var days []string
	for d := first; d.Month() == first.Month(); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(time.DateOnly))
	}
	if order == SortNewest {
		slices.Reverse(days)
	}
	if len(cur.After) > 0 {
		if ms, err := strconv.ParseInt(cur.After[0], 10, 64); err == nil {
			if k := slices.Index(days, dayOf(ms)); k >= 0 {
				days = days[k:]
			}
		}
	}
	return days
}

// narrowed adds a condition to a query's required clauses, flattening
// nested conjunctions, rather than wrapping the query (of a time-ordered
// search: its filter becomes required clauses too). Bleve intersects
// the postings of a conjunction of plain terms up front, whole: wrapped,
// two common words were intersected over the entire index once per month
// window (half the cost of a newest-first search). In one conjunction with
// the window, it walks from the window, its most selective side.
func narrowed(q query.Query, cond query.Query) query.Query {
	b, ok := q.(*query.BooleanQuery)
	if !ok {
		return bleve.NewConjunctionQuery(q, cond)
	}
	var must []query.Query
	// A filter (the words of phrases) joins the required clauses: the
	// walks this narrows do not score, and in the conjunction its terms
	// are walked with the rest rather than looked up hit by hit.
	for _, part := range []query.Query{b.Must, b.Filter} {
		switch m := part.(type) {
		case nil:
		case *query.ConjunctionQuery:
			for _, c := range m.Conjuncts {
				if inner, ok := c.(*query.ConjunctionQuery); ok {
					must = append(must, inner.Conjuncts...)
				} else {
					must = append(must, c)
				}
			}
		default:
			must = append(must, m)
		}
	}
	out := bleve.NewBooleanQuery()
	out.AddMust(append(must, cond)...)
	out.Should, out.MustNot = b.Should, b.MustNot
	return out
}

// windowSpan is the number of months expected to hold twice the hits
// still needed at the given density.
func windowSpan(need int, perMonth float64) int {
	return max(1, int(math.Ceil(2*float64(need)/max(perMonth, 1e-9))))
}

// walk is how a time-ordered search goes through the index: by sorting
// every hit (few enough), or month by month.
type walk struct {
	sortAll bool
	bound   int64    // an upper bound on the hits, -1 if unknown
	atLeast int64    // with no bound: a count the hits reach, 0 if unknown
	months  []string // the months to visit, in the walk's order
	// docs, if not nil, are every hit's document ID (sortAll, counted).
	docs []string
	// perMonth, if not 0, is the hits expected per month, where months
	// are only some of the period's.
	perMonth float64
}

// planWalk decides how to go through one period for n hits. later: the
// page is already full from earlier periods, and within holds only the
// months that can still add to it.
func (ix *Indexer) planWalk(ctx context.Context, p *period, q query.Query, order string, within monthRange, clauses []clause, later bool, n int) (walk, error) {
	idx := p.idx
	bound, err := upperBound(ctx, idx, clauses)
	if err != nil {
		return walk{}, err
	}
	if bound == 0 {
		// A clause's terms are nowhere in its dictionaries: no hit (a
		// period rarePeriods left unbounded, the others holding too
		// many), and nothing to walk.
		return walk{docs: []string{}}, nil
	}
	if later {
		// Only some months of the period matter: they are walked,
		// without counting or sorting the period's other hits (at 1M
		// Markdown messages, the second period a newest-first search
		// asks overlapped the first by years, and counting its hits
		// cost as much as the first period's page).
		all, err := p.months()
		if err != nil {
			return walk{}, err
		}
		w := walk{bound: bound, months: inRange(all, within)}
		// Few hits spread over many months: a walk would union whole
		// months of the period's postings, window after window, to
		// find the page's hits among them, where sorting every hit the
		// bound allows costs about a microsecond each. A rare term
		// newest first at 3M messages: the second period asked held
		// 171 hits over the 55 months left, 1.5-3 ms walked, 0.2
		// sorted. A walk expected to find its page in a month or two
		// (the hits are dense there) stays a walk.
		if bound >= 0 && bound <= int64(ix.sortAllLimit) && len(w.months) > laterWalkMonths &&
			float64(n) > laterWalkMonths*float64(bound)/float64(max(len(all), 1)) {
			return walk{bound: bound, sortAll: true}, nil
		}
		switch {
		case bound >= 0 && len(clauses) == 1:
			w.perMonth = float64(bound) / float64(max(len(all), 1))
		case len(w.months) <= oneWindowMonths:
			// A bound of one clause of several says little (a word
			// from one sender): windows sized on it took many rounds
			// of a few hits each. The few months left are asked in
			// one window, as if their hits were the period's only
			// ones.
			w.perMonth = math.SmallestNonzeroFloat64
		default:
			// Many months: one window would be a disjunction of them
			// all, each month's postings unioned (a sender filter,
			// newest first, some 80 months: 1.6 → 2.7 ms of CPU), so
			// the period is planned as if it were the first, in the
			// months left.
			w.months = nil
		}
		if w.months != nil {
			if order == SortNewest {
				slices.Reverse(w.months)
			}
			return w, nil
		}
	}
	var atLeast int64
	if (bound < 0 || len(clauses) > 1) && bound > int64(ix.sortAllLimit) {
		// The dictionaries bound one clause, not their conjunction: a
		// common word from a frequent sender can match a few hundred
		// messages. So the hits are counted (without scores or
		// sorting), but only up to the limit: past it, the walk is
		// sized on the limit, which understates the density (a window
		// then holds more hits than needed, each sorted for about a
		// microsecond), and the walk's own rounds correct it. A walk
		// sized on a loose bound cost many rounds of a few hits each (a
		// sender filter, oldest first: 11 ms of 12); counting every hit
		// cost a pass over all of them (two common words in long
		// Markdown messages, 15,000 hits: half the search).
		//
		// A count that ends under the limit has been through every hit:
		// it keeps their document IDs, and the period's page is sorted
		// from them (sorted), not searched for again (a phrase newest
		// first over long messages counted 1,848 hits, then Bleve went
		// through them again to sort them).
		n, docs, err := countUpTo(ctx, idx, q, ix.sortAllLimit+1, !ix.set.legacy)
		if err != nil {
			return walk{}, err
		}
		if n <= int64(ix.sortAllLimit) {
			return walk{bound: n, sortAll: true, docs: docs}, nil
		}
		bound, atLeast = -1, n
	}
	w := walk{bound: bound, atLeast: atLeast, sortAll: bound >= 0 && bound <= int64(ix.sortAllLimit)}
	if w.sortAll {
		return w, nil
	}
	all, err := p.months()
	if err != nil {
		return walk{}, err
	}
	w.months = inRange(all, within)
	if order == SortNewest {
		slices.Reverse(w.months)
	}
	return w, nil
}

// oneWindowMonths is the most months a period asked after the page is
// full walks in one window when its bound is loose (walk.perMonth).
const oneWindowMonths = 24

// laterWalkMonths is how many months' worth of hits a period asked after
// the page is full may be expected to take before its few hits are
// sorted rather than walked (planWalk).
const laterWalkMonths = 2

// inRange returns the months within the range, in a new slice (a
// period's list is shared).
func inRange(months []string, within monthRange) []string {
	return slices.DeleteFunc(slices.Clone(months), func(m string) bool { return m < within.first || m > within.last })
}

// countList is countUpTo's lists of a count's internal IDs.
type countList struct {
	internal []byte
	ends     []int
}

var countLists = sync.Pool{New: func() any { return new(countList) }}

// countUpTo counts a query's hits in one index, unscored, and stops at
// limit: Bleve's own search cannot stop before its last hit. With keep, a
// count that ends below the limit also returns every hit's document ID,
// read from the same snapshot.
func countUpTo(ctx context.Context, idx bleve.Index, q query.Query, limit int, keep bool) (int64, []string, error) {
	r, err := readerOf(idx)
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	s, err := q.Searcher(ctx, r, idx.Mapping(), search.SearcherOptions{Score: "none"})
	if err != nil {
		return 0, nil, err
	}
	defer s.Close()
	sc := &search.SearchContext{DocumentMatchPool: search.NewDocumentMatchPool(s.DocumentMatchPoolSize()+1, 0), IndexReader: r}
	var n int64
	// The internal IDs, end to end: the pool reuses each match's own.
	// Their lists are kept from one count to the next (countLists):
	// grown from empty each time, they were a seventh of what a
	// time-ordered search allocated.
	lists := countLists.Get().(*countList)
	defer countLists.Put(lists)
	internal, ends := lists.internal[:0], lists.ends[:0]
	defer func() { lists.internal, lists.ends = internal[:0], ends[:0] }()
	for n < int64(limit) {
		if n%1024 == 0 && ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		m, err := s.Next(sc)
		if err != nil {
			return 0, nil, err
		}
		if m == nil {
			break
		}
		n++
		if keep {
			internal = append(internal, m.IndexInternalID...)
			ends = append(ends, len(internal))
		}
		sc.DocumentMatchPool.Put(m)
	}
	if !keep || n >= int64(limit) {
		return n, nil, nil
	}
	docs := make([]string, 0, n)
	start := 0
	for _, end := range ends {
		d, err := r.ExternalID(internal[start:end])
		if err != nil {
			return 0, nil, err
		}
		docs = append(docs, d)
		start = end
	}
	return n, docs, nil
}

// sorted returns the first n of a period's hits (their document IDs, every
// one) after the cursor, in the given order, as runSearch does.
func sorted(docs []string, order string, n int, cur cursor) search.DocumentMatchCollection {
	docs = slices.Clone(docs)
	if len(cur.After) > 0 {
		ts, _ := strconv.ParseInt(cur.After[0], 10, 64) // decodeCursor checked its digits
		after := refDocID(ts, cur.After[1])
		docs = slices.DeleteFunc(docs, func(d string) bool {
			if order == SortNewest {
				return d >= after
			}
			return d <= after
		})
	}
	slices.Sort(docs)
	if order == SortNewest {
		slices.Reverse(docs)
	}
	out := make(search.DocumentMatchCollection, 0, min(n, len(docs)))
	for _, d := range docs[:min(n, len(docs))] {
		ts, ref, ok := splitDocID(d)
		if !ok {
			continue // not one this layout wrote; the store check would drop it
		}
		out = append(out, &search.DocumentMatch{ID: ref, Sort: []string{sortableTime(ts), ref}})
	}
	return out
}

// readerOf opens a reader on one index's current snapshot; the caller
// closes it.
func readerOf(idx bleve.Index) (index.IndexReader, error) {
	adv, err := idx.Advanced()
	if err != nil {
		return nil, err
	}
	return adv.Reader()
}

// indexTimeRange is a query's dates as the index holds times (indexTime),
// in ms, from inclusive and to exclusive, 0 where a side is open. A
// message later than the index's last time (maxIndexTime, November 2286)
// is held at it, so a date past it is that time's day (after:; the time
// filter's parts are whole days) or no bound at all (before:), and the
// check against the store reads the real time.
// Taken as they were, a date past the year 9999 was a month "10000-01",
// which sorts before every other: the filter and the walk took in the
// whole archive, and a newest-first search paged through it, finding
// nothing.
func indexTimeRange(q Query) (from, to int64) {
	if !q.After.IsZero() {
		if from = max(q.After.UnixMilli(), 0); from > maxIndexTime {
			from = maxIndexTime - maxIndexTime%dayMS
		}
	}
	if !q.Before.IsZero() && q.Before.UnixMilli() <= maxIndexTime {
		to = max(q.Before.UnixMilli(), 1)
	}
	return from, to
}

// monthRange bounds the months a search can match (inclusive, "2006-01").
type monthRange struct{ first, last string }

// bounds narrows the months a time-ordered walk must visit: the query's own
// dates, and the first and last messages of the rooms it is limited to (a
// room filter otherwise visits every month of the archive). The rooms are
// read into rc in one query, where the check of the hits finds them.
func (ix *Indexer) bounds(ctx context.Context, q Query, rooms []id.RoomID, rc *roomCache) (monthRange, error) {
	b := monthRange{first: "0000-00", last: "9999-99"}
	from, to := indexTimeRange(q)
	if from != 0 {
		b.first = monthOf(from)
	}
	if to != 0 {
		b.last = monthOf(to)
	}
	if len(rooms) == 0 {
		return b, nil
	}
	if err := rc.fillRooms(ctx, rooms); err != nil {
		return b, err
	}
	lo, hi := int64(1<<62), int64(0)
	for _, r := range rooms {
		room, err := rc.get(ctx, r)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return b, err
		}
		if room.MessageCount > 0 {
			lo, hi = min(lo, room.FirstTS), max(hi, room.LastTS)
		}
	}
	if hi > 0 {
		// As the index holds them (newDocument): clamped.
		lo, hi = min(max(lo, 0), maxIndexTime), min(max(hi, 0), maxIndexTime)
		b.first, b.last = max(b.first, monthOf(lo)), min(b.last, monthOf(hi))
	}
	return b, nil
}

// months lists an index's months, oldest first.
func months(idx bleve.Index) ([]string, error) {
	d, err := idx.FieldDict(fieldMonth)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var out []string
	for {
		e, err := d.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			break
		}
		out = append(out, e.Term)
	}
	slices.Sort(out)
	return out, nil
}

// hitRef is what names a hit's event: its time and its event's key (an
// index of this format), or its event ID (formats 9 and older).
type hitRef struct {
	ts  int64
	key uint64
	ev  id.EventID
	ok  bool // false: a document this layout did not write
}

// refOf reads a hit's ref (splitDocID) and, for a key, its time; a legacy
// index's hit is named by its event ID alone.
func (ix *Indexer) refOf(h *search.DocumentMatch) hitRef {
	if strings.HasPrefix(h.ID, "$") {
		return hitRef{ts: -1, key: ix.store.IDKey(id.EventID(h.ID)), ev: id.EventID(h.ID), ok: true}
	}
	key, ok := parseKeyRef(h.ID)
	if !ok || len(h.Sort) != 2 {
		return hitRef{}
	}
	ts, err := strconv.ParseInt(h.Sort[0], 10, 64)
	return hitRef{ts: ts, key: key, ok: err == nil}
}

// timeKey is a document of this format's name: its time and key.
type timeKey struct {
	ts  int64
	key uint64
}

// verify loads the hits from the store and returns, for each, its event
// if it may be shown and still satisfies the query's filters, else nil
// (the store is the truth; the index may lag behind it). A hit of this
// format is its event only if the event's time is the hit's too: events
// sharing a key (store.IDKey) are told apart by their times.
func (ix *Indexer) verify(ctx context.Context, hits search.DocumentMatchCollection, q Query, rooms []id.RoomID, check textCheck, rc *roomCache) ([]*store.Event, error) {
	if len(hits) == 0 {
		return nil, nil
	}
	refs := make([]hitRef, len(hits))
	keys := make([]uint64, 0, len(hits))
	byID := map[id.EventID]bool{}
	byKey := map[timeKey]bool{}
	for i, h := range hits {
		r := ix.refOf(h)
		refs[i] = r
		switch {
		case !r.ok:
			continue
		case r.ev != "":
			byID[r.ev] = true
		default:
			byKey[timeKey{r.ts, r.key}] = true
		}
		keys = append(keys, r.key)
	}
	evs, err := ix.store.EventsByKey(ctx, keys)
	if err != nil {
		return nil, err
	}
	// Only the events the hits name: a key may be another event's too.
	evs = slices.DeleteFunc(evs, func(e store.Event) bool {
		return !byID[e.ID] && !byKey[timeKey{indexTime(e.OriginTS), ix.store.IDKey(e.ID)}]
	})
	shown, err := ix.shown(ctx, evs, q, rooms, check, rc)
	if err != nil {
		return nil, err
	}
	named := make(map[timeKey]*store.Event, len(shown))
	for _, e := range shown {
		named[timeKey{indexTime(e.OriginTS), ix.store.IDKey(e.ID)}] = e
	}
	out := make([]*store.Event, len(hits))
	for i, r := range refs {
		switch {
		case !r.ok:
		case r.ev != "":
			out[i] = shown[r.ev]
		default:
			out[i] = named[timeKey{r.ts, r.key}]
		}
	}
	return out, nil
}

// shown keeps the events that may be shown and still satisfy the query's
// filters. A search of every room leaves out the rooms whose archive
// controls ask not to be listed, as every list the archive offers does
// (web's listing.go): results named such a room and its messages to
// anyone searching a word of them. A search in: such a room, whose reader
// knows it, finds its messages.
func (ix *Indexer) shown(ctx context.Context, evs []store.Event, q Query, rooms []id.RoomID, check textCheck, rc *roomCache) (map[id.EventID]*store.Event, error) {
	if err := rc.fill(ctx, evs); err != nil {
		return nil, err
	}
	var unlisted map[id.RoomID]bool
	if len(rooms) == 0 {
		unlisted = rc.unlisted // read with the rooms (rc.listing)
	}
	// Pointers into evs: an Event is too large for a map to hold in place,
	// and each one kept would be copied into an allocation of its own.
	out := make(map[id.EventID]*store.Event, len(evs))
	for i := range evs {
		e := &evs[i]
		room, err := rc.get(ctx, e.RoomID)
		if errors.Is(err, store.ErrNotFound) {
			continue // no room, nothing shown
		}
		if err != nil {
			return nil, err
		}
		if !indexable(e, room) {
			continue
		}
		if len(q.From) > 0 && !slices.Contains(q.From, e.Sender) {
			continue
		}
		if len(rooms) > 0 && !slices.Contains(rooms, e.RoomID) || unlisted[e.RoomID] {
			continue
		}
		if (!q.After.IsZero() && e.OriginTS < q.After.UnixMilli()) || (!q.Before.IsZero() && e.OriginTS >= q.Before.UnixMilli()) {
			continue
		}
		out[e.ID] = e
	}
	if len(check.runs) == 0 && len(check.excluded) == 0 {
		return out, nil
	}
	return ix.checkText(ctx, out, check)
}

// textCheck holds what the index can only approximate: phrases (the index
// matched their words and their pairs' buckets, maybe not in one run) and
// excluded phrases (not excluded by the index). An index of format 7 or
// older matched a phrase of two words exactly, by its pair.
type textCheck struct {
	runs, excluded [][]string
}

// checkText keeps the events whose displayed text has every run and no
// excluded phrase.
func (ix *Indexer) checkText(ctx context.Context, evs map[id.EventID]*store.Event, check textCheck) (map[id.EventID]*store.Event, error) {
	msgs := make([]store.Event, 0, len(evs))
	for _, e := range evs {
		msgs = append(msgs, *e)
	}
	resolved, err := ix.resolve(ctx, msgs, false) // the text alone
	if err != nil {
		return nil, err
	}
	f := newRunFinder(ix.set.periods[0].idx.Mapping())
	// Splitting a long message into words was most of a phrase search's
	// cost (31 Markdown messages of a few KB: 1.5 ms), so the hits are
	// split over the cores. The run finder now splits only the lines a
	// run can be on, but a language's stemmer, or text that is not ASCII,
	// still splits whole messages.
	//
	// Each message costs time linear in its words (runMatch), but a round
	// checks up to 151 of up to 64 KB, and a search up to three rounds:
	// the workers stop at the next message once the request's deadline
	// has passed or it is cancelled, and the search ends with that error,
	// as rendering does (web's renderQueue). It once went on for seconds
	// past a deadline of 50 ms, and answered as if in time.
	ids := slices.Collect(maps.Keys(evs))
	drop := make([]bool, len(ids))
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), len(ids))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := w; k < len(ids); k += workers {
				if ctx.Err() != nil {
					return
				}
				e := evs[ids[k]]
				msg, ok := searchable(e, resolved[ids[k]])
				if !ok {
					drop[k] = true
					continue
				}
				text := f.text(newDocument(e, msg, false).Text)
				keep := true
				for _, r := range check.runs {
					keep = keep && text.holds(r)
				}
				for _, x := range check.excluded {
					keep = keep && !text.holds(x)
				}
				drop[k] = !keep
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("checking phrases against the messages: %w", err)
	}
	for k, i := range ids {
		if drop[k] {
			delete(evs, i)
		}
	}
	return evs, nil
}

// resolveRooms turns in: filters (room IDs or aliases) into room IDs.
func (ix *Indexer) resolveRooms(ctx context.Context, in []string) ([]id.RoomID, error) {
	var out []id.RoomID
	for _, r := range in {
		roomID := id.RoomID(r)
		if !strings.HasPrefix(r, "!") {
			var err error
			roomID, err = ix.store.RoomIDByAlias(ctx, r)
			if errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("%w: this archive has no room %s", ErrBadRequest, r)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, roomID)
	}
	return out, nil
}

// buildQuery turns a parsed query into the index's query, split into words
// as the index splits text (m's analyzer), and says what the check against
// the store must still establish.
func buildQuery(m mapping.IndexMapping, q Query, rooms []id.RoomID) (query.Query, textCheck, []clause) {
	var check textCheck
	var clauses []clause
	b := bleve.NewBooleanQuery()
	must := 0
	term := func(t string) query.Query {
		tq := bleve.NewTermQuery(t)
		tq.SetField(fieldText)
		return tq
	}
	// all matches every one of a run's terms (searchTerms).
	all := func(terms []string) query.Query {
		if len(terms) == 1 {
			return term(terms[0])
		}
		qs := make([]query.Query, len(terms))
		for i, t := range terms {
			qs[i] = term(t)
		}
		return bleve.NewConjunctionQuery(qs...)
	}
	pairs := textPairs(m)
	var scored []string // the words of phrases (searchTerms), once a query
	// A word the analyzer splits ("apt-get") is a phrase of its parts.
	for _, p := range append(slices.Clip(q.Words), q.Phrases...) {
		ws := words(m, p)
		if len(ws) == 0 {
			b.AddMust(bleve.NewMatchNoneQuery()) // nothing to match (only punctuation)
			must++
			clauses = append(clauses, clause{})
			continue
		}
		terms, among, exact := searchTerms(pairs, ws)
		// Where searchTerms adds words, the terms are the pairs'
		// buckets: required but not scored (unscored), the words score
		// the run.
		run := make([]query.Query, 0, 1+len(among))
		if len(among) > 0 {
			run = append(run, unscored{all(terms)})
		} else {
			run = append(run, all(terms))
		}
		for _, t := range terms {
			clauses = append(clauses, clause{{fieldText, t}})
		}
		for _, w := range among {
			if !slices.Contains(scored, w) {
				scored = append(scored, w)
				run = append(run, term(w))
				clauses = append(clauses, clause{{fieldText, w}})
			}
		}
		if len(run) == 1 {
			b.AddMust(run[0])
		} else {
			b.AddMust(bleve.NewConjunctionQuery(run...))
		}
		must++
		if !exact {
			check.runs = append(check.runs, ws)
		}
	}
	for _, x := range q.Exclude {
		ws := words(m, x)
		terms, _, exact := searchTerms(pairs, ws)
		switch {
		case len(ws) == 0:
		case exact:
			b.AddMustNot(all(terms)) // one term: exact
		default:
			// A message with the words and the buckets of the pairs may
			// still not hold the phrase: only the store can tell.
			check.excluded = append(check.excluded, ws)
		}
	}
	// A keyword filter: the field holds one of the values.
	oneOf := func(field string, values []string) {
		if len(values) == 0 {
			return
		}
		var any []query.Query
		var c clause
		for _, v := range values {
			t := bleve.NewTermQuery(v)
			t.SetField(field)
			any = append(any, t)
			c = append(c, fieldTerm{field, v})
		}
		b.AddMust(bleve.NewDisjunctionQuery(any...))
		must++
		clauses = append(clauses, c)
	}
	oneOf(fieldSender, strs(q.From))
	oneOf(fieldRoom, strs(rooms))
	if !q.After.IsZero() || !q.Before.IsZero() {
		from, to := indexTimeRange(q)
		b.AddMust(timeRange(from, to))
		must++
	}
	for _, f := range []struct {
		on    bool
		field string
	}{{q.HasLink, fieldHasLink}, {q.IsThread, fieldIsThread}, {q.IsPoll, fieldIsPoll}} {
		if f.on {
			t := bleve.NewBoolFieldQuery(true)
			t.SetField(f.field)
			b.AddMust(t)
			must++
		}
	}
	if must == 0 {
		b.AddMust(bleve.NewMatchAllQuery())
	}
	return b, check, clauses
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// A clause is a condition every hit meets: it has one of these terms.
type clause []fieldTerm

type fieldTerm struct{ field, term string }

// upperBound bounds the number of hits of a query from its clauses: the
// fewest documents any one clause can match, from the term dictionaries
// alone (no posting is read). -1 when the query has no such clause.
func upperBound(ctx context.Context, idx bleve.Index, clauses []clause) (int64, error) {
	if len(clauses) == 0 {
		return -1, nil
	}
	r, err := readerOf(idx)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	bound := int64(math.MaxInt64)
	for _, c := range clauses {
		var n int64
		for _, ft := range c {
			tfr, err := r.TermFieldReader(ctx, []byte(ft.term), ft.field, false, false, false)
			if err != nil {
				return 0, err
			}
			n += int64(tfr.Count())
			tfr.Close()
		}
		bound = min(bound, n)
	}
	return bound, nil
}
