package indexer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/numeric"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
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
	// Total is the index's count of matches, before the check against the
	// store; an estimate for display.
	Total uint64
}

type cursor struct {
	Offset int      `json:"o,omitempty"`
	After  []string `json:"a,omitempty"`
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Offset < 0 || c.Offset > MaxOffset || len(c.After) > 4 {
		return c, fmt.Errorf("%w: the page cursor is not one this archive made", ErrBadRequest)
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
	cur, err := decodeCursor(req.Cursor)
	if err != nil {
		return res, err
	}
	rooms, err := ix.resolveRooms(ctx, req.Query.In)
	if err != nil {
		return res, err
	}
	q := buildQuery(req.Query, rooms)
	bounds, err := ix.bounds(ctx, req.Query, rooms)
	if err != nil {
		return res, err
	}

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return res, errNoIndex
	}
	// Fetch a little more than a page: some hits may fail the check
	// against the store (redacted since they were indexed). Each kept
	// event remembers where the index stands just after it, so the next
	// page resumes right after the last event returned.
	want := req.Size + 1
	var resume []cursor
	for round := 0; round < 3 && len(res.Events) < want; round++ {
		fetch := want + want/2
		hits, total, err := ix.hits(ctx, q, req.Sort, fetch, cur, bounds)
		if err != nil {
			return res, fmt.Errorf("search: %w", err)
		}
		res.Total = total
		ids := make([]id.EventID, len(hits))
		for i, h := range hits {
			ids[i] = id.EventID(h.ID)
		}
		verified, err := ix.verify(ctx, ids, req.Query, rooms)
		if err != nil {
			return res, err
		}
		for _, h := range hits {
			if len(res.Events) == want {
				break
			}
			// The cursor moves past every hit looked at, kept or not.
			if req.Sort == SortRelevance {
				cur.Offset++
			} else {
				cur.After = h.Sort
			}
			if e, ok := verified[id.EventID(h.ID)]; ok {
				res.Events = append(res.Events, e)
				resume = append(resume, cur)
			}
		}
		if len(hits) < fetch {
			break // the index has no more
		}
	}
	if len(res.Events) > req.Size {
		res.Events = res.Events[:req.Size]
		next := resume[req.Size-1]
		if req.Sort != SortRelevance || next.Offset < MaxOffset {
			res.Next = next.encode()
		}
	}
	return res, nil
}

// sortAllLimit is the hit count up to which a time-ordered search simply
// sorts every hit; above it, the search walks the index month by month.
const sortAllLimit = 500

// hits asks the index for n hits after the cursor, in the given order.
//
// Sorting by time costs Bleve a timestamp load per matching document: a
// common term sorted newest first cost 150 ms at 1M messages. So a
// time-ordered search with many hits walks the months (fieldMonth) from the
// cursor's month on, newest or oldest first, sorting only each month's hits,
// and stops as soon as it has n: whatever it has by then is the true page.
func (ix *Indexer) hits(ctx context.Context, q query.Query, order string, n int, cur cursor, within monthRange) (search.DocumentMatchCollection, uint64, error) {
	run := func(q query.Query, size int) (*bleve.SearchResult, error) {
		sr := bleve.NewSearchRequestOptions(q, size, 0, false)
		switch order {
		case SortRelevance:
			// Score alone: a time tie-breaker would load every hit's
			// timestamp, which dominated the cost of common terms.
			sr.SortBy([]string{"-_score"})
			sr.From = cur.Offset
		case SortNewest:
			sr.SortBy([]string{"-" + fieldTS, "-_id"})
		case SortOldest:
			sr.SortBy([]string{fieldTS, "_id"})
		}
		if order != SortRelevance && cur.After != nil {
			sr.SearchAfter = cur.After
		}
		return ix.idx.SearchInContext(ctx, sr)
	}
	if order == SortRelevance {
		res, err := run(q, n)
		if err != nil {
			return nil, 0, err
		}
		return res.Hits, res.Total, nil
	}
	// Count the hits without sorting or scoring them: with the time sort, a
	// count alone loaded every hit's timestamp.
	cr := bleve.NewSearchRequestOptions(q, 0, 0, false)
	cr.Score = "none"
	count, err := ix.idx.SearchInContext(ctx, cr)
	if err != nil {
		return nil, 0, err
	}
	if count.Total <= uint64(ix.sortAllLimit) {
		res, err := run(q, n)
		if err != nil {
			return nil, 0, err
		}
		return res.Hits, count.Total, nil
	}
	months, err := ix.months()
	if err != nil {
		return nil, 0, err
	}
	months = slices.DeleteFunc(months, func(m string) bool { return m < within.first || m > within.last })
	if order == SortNewest {
		slices.Reverse(months)
	}
	// Start at the cursor's month: everything before it in this order was
	// on earlier pages.
	if len(cur.After) > 0 {
		if i, err := numeric.PrefixCoded(cur.After[0]).Int64(); err == nil {
			start := monthOf(int64(numeric.Int64ToFloat64(i)))
			if k := slices.Index(months, start); k >= 0 {
				months = months[k:]
			}
		}
	}
	var out search.DocumentMatchCollection
	for _, m := range months {
		t := bleve.NewTermQuery(m)
		t.SetField(fieldMonth)
		res, err := run(bleve.NewConjunctionQuery(q, t), n-len(out))
		if err != nil {
			return nil, 0, err
		}
		out = append(out, res.Hits...)
		if len(out) >= n {
			break
		}
	}
	return out, count.Total, nil
}

// monthRange bounds the months a search can match (inclusive, "2006-01").
type monthRange struct{ first, last string }

// bounds narrows the months a time-ordered walk must visit: the query's own
// dates, and the first and last messages of the rooms it is limited to (a
// room filter otherwise visits every month of the archive).
func (ix *Indexer) bounds(ctx context.Context, q Query, rooms []id.RoomID) (monthRange, error) {
	b := monthRange{first: "0000-00", last: "9999-99"}
	if !q.After.IsZero() {
		b.first = monthOf(q.After.UnixMilli())
	}
	if !q.Before.IsZero() {
		b.last = monthOf(q.Before.UnixMilli())
	}
	if len(rooms) == 0 {
		return b, nil
	}
	lo, hi := int64(1<<62), int64(0)
	for _, r := range rooms {
		room, err := ix.store.Room(ctx, r)
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
		b.first, b.last = max(b.first, monthOf(lo)), min(b.last, monthOf(hi))
	}
	return b, nil
}

// months lists the index's months, oldest first.
func (ix *Indexer) months() ([]string, error) {
	d, err := ix.idx.FieldDict(fieldMonth)
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

// verify loads the hits from the store and keeps those that may be shown
// and still satisfy the query's filters (the store is the truth; the index
// may lag behind it).
func (ix *Indexer) verify(ctx context.Context, ids []id.EventID, q Query, rooms []id.RoomID) (map[id.EventID]store.Event, error) {
	out := map[id.EventID]store.Event{}
	if len(ids) == 0 {
		return out, nil
	}
	evs, err := ix.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	rc := &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}
	for _, e := range evs {
		room, err := rc.get(ctx, e.RoomID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if !indexable(&e, room) {
			continue
		}
		if len(q.From) > 0 && !slices.Contains(q.From, e.Sender) {
			continue
		}
		if len(rooms) > 0 && !slices.Contains(rooms, e.RoomID) {
			continue
		}
		if (!q.After.IsZero() && e.OriginTS < q.After.UnixMilli()) || (!q.Before.IsZero() && e.OriginTS >= q.Before.UnixMilli()) {
			continue
		}
		out[e.ID] = e
	}
	return out, nil
}

// resolveRooms turns in: filters (room IDs or aliases) into room IDs.
func (ix *Indexer) resolveRooms(ctx context.Context, in []string) ([]id.RoomID, error) {
	var out []id.RoomID
	for _, r := range in {
		if strings.HasPrefix(r, "!") {
			out = append(out, id.RoomID(r))
			continue
		}
		roomID, err := ix.store.RoomIDByAlias(ctx, r)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: this archive has no room %s", ErrBadRequest, r)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, roomID)
	}
	return out, nil
}

func buildQuery(q Query, rooms []id.RoomID) query.Query {
	b := bleve.NewBooleanQuery()
	must := 0
	for _, w := range q.Words {
		m := bleve.NewMatchQuery(w)
		m.SetField(fieldText)
		m.SetOperator(query.MatchQueryOperatorAnd)
		b.AddMust(m)
		must++
	}
	for _, p := range q.Phrases {
		m := bleve.NewMatchPhraseQuery(p)
		m.SetField(fieldText)
		b.AddMust(m)
		must++
	}
	for _, x := range q.Exclude {
		m := bleve.NewMatchPhraseQuery(x)
		m.SetField(fieldText)
		b.AddMustNot(m)
	}
	if len(q.From) > 0 {
		var any []query.Query
		for _, u := range q.From {
			t := bleve.NewTermQuery(string(u))
			t.SetField(fieldSender)
			any = append(any, t)
		}
		b.AddMust(bleve.NewDisjunctionQuery(any...))
		must++
	}
	if len(rooms) > 0 {
		var any []query.Query
		for _, r := range rooms {
			t := bleve.NewTermQuery(string(r))
			t.SetField(fieldRoom)
			any = append(any, t)
		}
		b.AddMust(bleve.NewDisjunctionQuery(any...))
		must++
	}
	if !q.After.IsZero() || !q.Before.IsZero() {
		var lo, hi *float64
		if !q.After.IsZero() {
			v := float64(q.After.UnixMilli())
			lo = &v
		}
		if !q.Before.IsZero() {
			v := float64(q.Before.UnixMilli())
			hi = &v
		}
		inclusive, exclusive := true, false
		r := bleve.NewNumericRangeInclusiveQuery(lo, hi, &inclusive, &exclusive)
		r.SetField(fieldTS)
		b.AddMust(r)
		must++
	}
	for _, f := range []struct {
		on    bool
		field string
	}{{q.HasLink, fieldHasLink}, {q.IsThread, fieldIsThread}} {
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
	return b
}
