package indexer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/store"
)

// CatchUpText is the most text a catch-up step holds (catchUpText).
const CatchUpText = catchUpText

// SetWait replaces the timer Follow waits on between rounds, so tests
// can count its back-off without waiting for it.
func (ix *Indexer) SetWait(wait func(time.Duration) <-chan time.Time) { ix.wait = wait }

// recordBatch keeps what indexMessages would write to the index.
type recordBatch map[string]any

func (b recordBatch) Index(id string, data any) error { b[id] = data; return nil }
func (b recordBatch) Delete(id string, _ int64)       { b[id] = nil }

// IndexedTexts runs the indexer's own path over msgs and returns, per
// message, the text its document holds; a message it would delete (or
// not index) is absent.
func (ix *Indexer) IndexedTexts(ctx context.Context, msgs []store.Event) (map[id.EventID]string, error) {
	b := recordBatch{}
	if err := ix.indexMessages(ctx, msgs, &roomCache{st: ix.store, rooms: map[id.RoomID]store.Room{}}, b); err != nil {
		return nil, err
	}
	out := map[id.EventID]string{}
	for k, v := range b {
		if doc, ok := v.(document); ok {
			out[id.EventID(k)] = doc.Text
		}
	}
	return out, nil
}

// Periods says how many periods the index has.
func (ix *Indexer) Periods() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.set.periods)
}

// SetAfterCommit sets a hook run after each period's batch of a step has
// committed; an error from it stops the step there, as a crash would.
func (ix *Indexer) SetAfterCommit(f func() error) { ix.afterCommit = f }

// Path is where the index is.
func (ix *Indexer) Path() string { return ix.path }

// Segments says how many segments each period's index has, oldest period
// first.
func (ix *Indexer) Segments() []int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []int
	for _, p := range ix.set.periods {
		out = append(out, segments(p.idx))
	}
	return out
}

// WithoutBackgroundMerges makes Bleve's own merges leave every segment
// alone, as they leave segments of a large index (ten of a size per tier),
// so that a test sees what merges the indexer itself asks for.
func WithoutBackgroundMerges(o Options) Options {
	o.bleveConfig = map[string]any{"scorchMergePlanOptions": map[string]any{
		"MaxSegmentsPerTier": 1000, "SegmentsPerMergeTask": 10, "FloorSegmentSize": 1, "FloorSegmentFileSize": 1,
	}}
	return o
}

// SetAsked sets a hook told each period a search asks for hits.
func (ix *Indexer) SetAsked(f func(period string)) { ix.asked = f }

// SetSortAllLimit sets the hit count up to which a period's hits are
// sorted rather than walked month by month (0: always walk).
func (ix *Indexer) SetSortAllLimit(n int) { ix.sortAllLimit = n }

// SetAtOnceLimit sets the hit count up to which a time-ordered search asks
// every period at once (0: one by one).
func (ix *Indexer) SetAtOnceLimit(n int) { ix.atOnceLimit = n }

// corpusLogs reads the IRC corpus (or its bundled sample, corpus.Dir).
func corpusLogs(t testing.TB) []corpus.Log {
	t.Helper()
	dir, _, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	logs, err := corpus.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// CorpusLogs is corpusLogs, for the package's external tests.
var CorpusLogs = corpusLogs

// PeriodDocCounts says how many documents each period holds, in the
// manifest's order.
func (ix *Indexer) PeriodDocCounts() []uint64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []uint64
	for _, p := range ix.set.periods {
		n, _ := p.idx.DocCount()
		out = append(out, n)
	}
	return out
}

// FullPeriodDocs is how many documents a period of periodDocs may reach
// before it takes no more (fullPeriodDocs).
func FullPeriodDocs(periodDocs int) int { return fullPeriodDocs(periodDocs) }

// SetDayWalkHits sets the hits a month must be expected to hold to be
// walked by its days (0: never); DayWindows counts the day windows asked.
func (ix *Indexer) SetDayWalkHits(n int) { ix.dayWalkHits = n }
func (ix *Indexer) DayWindows() int64    { return ix.dayWindows.Load() }

// MonthWindows counts the month windows walks have asked.
func (ix *Indexer) MonthWindows() int64 { return ix.monthWindows.Load() }

// PeriodBounds counts the periods whose hits a time-ordered search bounded
// from their dictionaries, to tell a rare word's.
func (ix *Indexer) PeriodBounds() int64 { return ix.periodBounds.Load() }

// PairBucket is the term the index holds for the pair of words x, y.
func PairBucket(x, y string) string { return string(pairBucket([]byte(x), []byte(y), pairBuckets)) }

// TextNorms reads, from every period, the norm the index holds with term's
// postings in the text field, by ref (KeyRef): what a hit on it is scored by.
func (ix *Indexer) TextNorms(term string) (map[string]float64, error) {
	ps, err := ix.TextPostings(term)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for ref, p := range ps {
		out[ref] = p.Norm
	}
	return out, nil
}

// TextPosting is what a posting of the text field holds: the term's
// frequency in the document, and the document's norm.
type TextPosting struct {
	Freq uint64
	Norm float64
}

// TextPostings reads, from every period, term's postings in the text
// field, by ref (KeyRef).
func (ix *Indexer) TextPostings(term string) (map[string]TextPosting, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := map[string]TextPosting{}
	for _, p := range ix.set.periods {
		if err := ix.set.textPostings(p, term, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *shards) textPostings(p *period, term string, out map[string]TextPosting) error {
	idx, err := s.index(p)
	if err != nil {
		return err
	}
	adv, err := idx.Advanced()
	if err != nil {
		return err
	}
	r, err := adv.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	tfr, err := r.TermFieldReader(context.Background(), []byte(term), fieldText, true, true, false)
	if err != nil {
		return err
	}
	defer tfr.Close()
	for {
		d, err := tfr.Next(nil)
		if err != nil || d == nil {
			return err
		}
		ext, err := r.ExternalID(d.ID)
		if err != nil {
			return err
		}
		_, ref, ok := splitDocID(ext)
		if !ok {
			return fmt.Errorf("document ID %q", ext)
		}
		out[ref] = TextPosting{Freq: d.Freq, Norm: d.Norm}
	}
}

// KeyRef is the ref of ev's document (splitDocID).
func (ix *Indexer) KeyRef(ev string) string { return keyRef(ix.store.IDKey(id.EventID(ev))) }

// NameDocsAsFormat9 makes ix name the documents it writes as formats 6 to
// 9 did (eventDocID), or as this format does again.
func (ix *Indexer) NameDocsAsFormat9(on bool) { ix.oldNames = on }

// DocRefs lists the refs (splitDocID) of every document of every period.
func (ix *Indexer) DocRefs() ([]string, error) {
	var out []string
	err := ix.fieldTerms(fieldID, func(term string) error {
		_, ref, ok := splitDocID(term)
		if !ok {
			return fmt.Errorf("document ID %q", term)
		}
		out = append(out, ref)
		return nil
	})
	return out, err
}

// fieldTerms calls each with every term of field, period by period.
func (ix *Indexer) fieldTerms(field string, each func(term string) error) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, p := range ix.set.periods {
		idx, err := ix.set.index(p)
		if err != nil {
			return err
		}
		d, err := idx.FieldDict(field)
		if err != nil {
			return err
		}
		for {
			e, err := d.Next()
			if err == nil && e != nil {
				err = each(e.Term)
			}
			if err != nil || e == nil {
				d.Close()
				if err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// IndexForged indexes, in the newest period, a document named by time ts
// and ev's key whose text is text: a document the store check must tell
// from ev's own when ts is not ev's time.
func (ix *Indexer) IndexForged(ev string, ts int64, text string) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	idx, err := ix.set.index(ix.set.periods[len(ix.set.periods)-1])
	if err != nil {
		return err
	}
	b, err := newDocBuilder(idx.Mapping())
	if err != nil {
		return err
	}
	batch := idx.NewBatch()
	if err := batch.IndexAdvanced(b.build(docID(ts, ix.store.IDKey(id.EventID(ev))), document{Text: text, Month: monthOf(ts), Day: dayOf(ts)})); err != nil {
		return err
	}
	return idx.Batch(batch)
}

// TextTerms lists, from every period, the text field's terms.
func (ix *Indexer) TextTerms() ([]string, error) {
	var out []string
	err := ix.fieldTerms(fieldText, func(term string) error {
		out = append(out, term)
		return nil
	})
	return out, err
}

// MaxWordBytes is maxWordBytes.
const MaxWordBytes = maxWordBytes

// ForceCheckpoint sets the live index's checkpoint and writes it to the
// manifest, as an index that has indexed a feed since lost (a restored
// database) holds it, and lets the next catch-up compare it with the
// feed's head at once, as it does a second after the last look.
func (ix *Indexer) ForceCheckpoint(pos int64) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.set.checkpoint.Store(pos)
	ix.headChecked.Store(0)
	return ix.set.writeManifest()
}

// LowerWord is lowerWord, for its tests.
var LowerWord = lowerWord
