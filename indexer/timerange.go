package indexer

import (
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
)

const dayMS = 24 * 60 * 60 * 1000

// timeRange matches the documents from from (inclusive) to to (exclusive),
// in ms; 0 leaves that side open. It is made of the coarsest terms that
// cover the span: whole months by fieldMonth, whole days of the edge
// months by fieldDay, and only the edge days' parts by the time itself
// (the document IDs, fieldID, which begin with the time: one term per
// document, so kept to less than a day). Date filters are whole days, so
// only a retention cutoff needs the time. Each part is a term range: Bleve
// expands it from the field's dictionary to the terms the index actually
// holds.
func timeRange(from, to int64) query.Query {
	var parts []query.Query
	rng := func(field, lo, hi string) {
		r := bleve.NewTermRangeInclusiveQuery(lo, hi, ptr(true), ptr(false))
		r.SetField(field)
		parts = append(parts, r)
	}
	// The document IDs of a time from lo to hi (exclusive): an ID is
	// its time's bytes and then more, so it sorts after the bytes alone.
	ids := func(lo, hi int64) { rng(fieldID, idTime(lo), idTime(hi)) }
	open := to == 0
	if !open && from >= to {
		return bleve.NewMatchNoneQuery()
	}
	// The part days at either end.
	if from != 0 && from%dayMS != 0 {
		next := from - from%dayMS + dayMS
		if !open && to <= next {
			ids(from, to)
			return bleve.NewDisjunctionQuery(parts...)
		}
		ids(from, next)
		from = next
	}
	if !open && to%dayMS != 0 {
		start := to - to%dayMS
		if start >= from {
			ids(max(from, start), to)
			to = start
		}
	}
	// Whole days: those of the edge months by day, the rest by month.
	if from != 0 && !monthStart(from) {
		t := time.UnixMilli(from).UTC()
		next := time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		if !open && to <= next {
			if from < to {
				rng(fieldDay, dayOf(from), dayOf(to))
			}
			return bleve.NewDisjunctionQuery(parts...)
		}
		rng(fieldDay, dayOf(from), dayOf(next))
		from = next
	}
	if !open && !monthStart(to) {
		t := time.UnixMilli(to).UTC()
		start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		if start < from {
			start = from
		}
		if start < to {
			rng(fieldDay, dayOf(start), dayOf(to))
		}
		to = start
	}
	switch {
	case from == 0 && open:
		return bleve.NewMatchAllQuery()
	case open:
		rng(fieldMonth, monthOf(from), "")
	case from < to:
		lo := ""
		if from != 0 {
			lo = monthOf(from)
		}
		rng(fieldMonth, lo, monthOf(to))
	}
	if len(parts) == 0 {
		return bleve.NewMatchNoneQuery()
	}
	return bleve.NewDisjunctionQuery(parts...)
}

// monthStart reports whether ms is midnight UTC on the first of a month.
func monthStart(ms int64) bool {
	t := time.UnixMilli(ms).UTC()
	return ms%dayMS == 0 && t.Day() == 1
}

func ptr[T any](v T) *T { return &v }

// idTime is the first bytes of the IDs of the documents of time ms
// (docID).
func idTime(ms int64) string { return string(appendTime(nil, indexTime(ms))) }
