package indexer

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A period's time bounds say which periods a message's deletion must reach
// (multiBatch.Delete): an index opened again reads them from what it holds
// and must find those it had when it was written.
func TestReopenedPeriodsKeepTheirBounds(t *testing.T) {
	st := corpusSample(t, 3000)
	dir := filepath.Join(t.TempDir(), "index")
	ix, err := Open(st, dir, Options{PeriodDocs: 1000, BatchSize: 500}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CatchUp(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	bounds := func(ix *Indexer) [][2]int64 {
		var out [][2]int64
		for _, p := range ix.set.periods {
			out = append(out, [2]int64{p.lo.Load(), p.hi.Load()})
		}
		return out
	}
	written := bounds(ix)
	if len(written) < 2 {
		t.Fatalf("%d periods; the test wants several", len(written))
	}
	for i, b := range written {
		if b[0] > b[1] || b[0] <= 0 {
			t.Fatalf("period %d holds no time: %v", i, b)
		}
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	ix, err = Open(st, dir, Options{PeriodDocs: 1000, BatchSize: 500}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if got := bounds(ix); len(got) != len(written) {
		t.Fatalf("reopened with %d periods, written with %d", len(got), len(written))
	} else {
		for i := range got {
			if got[i] != written[i] {
				t.Errorf("period %d: bounds %v reopened, %v written", i, got[i], written[i])
			}
		}
	}
}

// indexedSample is an index caught up with corpusSample(t, n), closed
// when the test ends.
func indexedSample(t *testing.T, n int) *Indexer {
	t.Helper()
	st := corpusSample(t, n)
	ix, err := Open(st, filepath.Join(t.TempDir(), "index"), Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.CatchUp(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return ix
}

// corpusSample is a SQLite store holding n events generated from the IRC
// corpus.
func corpusSample(t *testing.T, n int) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if _, err := corpus.Generate(w, corpusLogs(t), n); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()
	st := storetest.Open(t, "sqlite")
	if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	return st
}

// No query asks for a message without a link or outside a thread (a
// filter only ever asks for the flag set), so the index holds the flags'
// true terms only: a false one was one more term for nearly every
// message.
func TestOnlySetFlagsAreIndexed(t *testing.T) {
	ix := indexedSample(t, 3000)
	for _, field := range []string{fieldHasLink, fieldIsThread, fieldIsPoll} {
		for _, p := range ix.set.periods {
			d, err := p.idx.FieldDict(field)
			if err != nil {
				t.Fatal(err)
			}
			for {
				e, err := d.Next()
				if err != nil {
					t.Fatal(err)
				}
				if e == nil {
					break
				}
				if e.Term != "T" {
					t.Errorf("%s holds the term %q (%d documents)", field, e.Term, e.Count)
				}
			}
			d.Close()
		}
	}
	res, err := ix.Search(context.Background(), Request{Query: mustParse(t, "has:link"), Size: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) == 0 {
		t.Error("has:link finds nothing in a corpus sample with links")
	}
}

func mustParse(t *testing.T, q string) Query {
	t.Helper()
	p, err := ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// countingRanger counts the dictionary entries boundsOf reads.
type countingRanger struct {
	idx  bleve.Index
	read int
}

func (c *countingRanger) FieldDictRange(field string, start, end []byte) (index.FieldDict, error) {
	d, err := c.idx.FieldDictRange(field, start, end)
	return countingDict{d, c}, err
}

type countingDict struct {
	index.FieldDict
	c *countingRanger
}

func (d countingDict) Next() (*index.DictEntry, error) {
	e, err := d.FieldDict.Next()
	if e != nil {
		d.c.read++
	}
	return e, err
}

// A period's bounds are read when the index opens, for every period: they
// must cost a few seeks in its dictionary of IDs, not a walk over it (at
// 3M messages the walk left 254 MiB of the index files mapped in a
// process that had not yet served a page), and be exact whatever the
// times, at the ends of the range of times included.
func TestBoundsAreReadWithoutWalkingTheIDs(t *testing.T) {
	idx, err := bleve.New(filepath.Join(t.TempDir(), "p"), bleve.NewIndexMapping())
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if _, _, ok, err := boundsOf(&countingRanger{idx: idx}); ok || err != nil {
		t.Fatalf("an empty index has bounds (%v, %v)", ok, err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	lo, hi := int64(math.MaxInt64), int64(-1) // of every batch so far
	for _, ends := range [][2]int64{{1_700_000_000_000, 1_700_000_000_001}, {0, maxIndexTime}, {5, 1_600_000_000_000}, {42, 42}} {
		b := idx.NewBatch()
		for i := range 3000 {
			ts := ends[0] + rnd.Int64N(ends[1]-ends[0]+1)
			if i == 0 {
				ts = ends[0]
			} else if i == 1 {
				ts = ends[1]
			}
			ev := fmt.Sprintf("$%043d", i) // not a hash: kept as text
			if i%2 == 0 {
				var h [32]byte
				for j := range h {
					h[j] = byte(rnd.IntN(256))
				}
				ev = "$" + hashEncoding.EncodeToString(h[:])
			}
			if err := b.Index(eventDocID(ts, ev), map[string]any{"text": "x"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.Batch(b); err != nil {
			t.Fatal(err)
		}
		lo, hi = min(lo, ends[0]), max(hi, ends[1])
		c := &countingRanger{idx: idx}
		gotLo, gotHi, ok, err := boundsOf(c)
		if err != nil || !ok {
			t.Fatalf("%v: boundsOf: %v, %v", ends, ok, err)
		}
		n, _ := idx.DocCount()
		if gotLo != lo || gotHi != hi {
			t.Errorf("after the batch of %v (%d documents): bounds %d–%d, want %d–%d", ends, n, gotLo, gotHi, lo, hi)
		}
		if c.read > 4*timeBytes*8 {
			t.Errorf("after the batch of %v: %d IDs read of %d documents to find the bounds", ends, c.read, n)
		}
	}
}
