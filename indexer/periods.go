package indexer

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/index/scorch/mergeplan"
	index "github.com/blevesearch/bleve_index_api"
	bolterrors "go.etcd.io/bbolt/errors"
)

// The index is a set of Bleve indexes, one per period of time. Bleve
// cannot stop a sorted search early inside one index: it loads the time of
// every hit to sort them. Split by time, a newest-first search asks the
// newest period first and stops once a page is full and no older period
// can beat it; relevance asks every period at once and merges by score.
//
// A period is closed when it holds Options.PeriodDocs documents, or fewer
// long ones whose estimated size (its weight) reaches Options.PeriodBytes,
// so busy and sparse archives, short lines and long messages alike get a
// few well-sized periods: the newest period
// is open-ended, and a new one starts at the median time of the documents
// the closing step put in it. Routing is by the message's own time, fixed
// per event, so an edit or a deletion finds the period its document is in.
// Periods may overlap a little (a closed period keeps what it held past its
// successor's start, and a hostile far-future time stays where it went):
// each period's time bounds (lo, hi) say what it may hold, a document
// indexed elsewhere is deleted from every period whose bounds cover its
// time, and the ordered search merges by those bounds.
//
// A closed period still takes the later feed's messages of its time (rooms
// imported one after another take the feed through the archive's years
// once per room). Once it holds fullPeriodDocs it is full: a new period
// with the same start takes its whole time from then on (a message goes to
// the last period, in the manifest's order, whose start is at most its
// time), and the full one keeps what it holds, as a closed period keeps
// what it held past its successor's start.
//
// The manifest (manifestName, written atomically after every period's
// batch of a step has committed) holds the checkpoint and the periods. A
// crash between two periods' commits replays the step from the manifest's
// checkpoint: indexing by event ID is an upsert and deleting is idempotent.

const (
	manifestName = "mxarchive.json"
	// defaultPeriodDocs: see Options.PeriodDocs.
	defaultPeriodDocs = 100_000
	// defaultPeriodBytes: see Options.PeriodBytes.
	defaultPeriodBytes = 40 << 20
	// periodDocBytes is what a document costs the index besides its
	// text, which costs about twice its bytes (its words and their
	// pairs): measured, 295 bytes a message of 58-byte IRC lines and
	// 1,255 of 588-byte Markdown messages (the bench's replays of 200k
	// and 400k events), so 256 and twice the text estimates both a
	// little over.
	periodDocBytes = 256
	// legacyMeta marks an index of format 4 or older: one Bleve index at
	// the index path itself.
	legacyMeta = "index_meta.json"
)

type manifest struct {
	Format string `json:"format"`
	// Keys names the key scheme (store.IDKey) the documents are named
	// by: the dialect of the store the index was built over
	// (keyscheme.go). Absent in a manifest older than it.
	Keys       string `json:"keys,omitempty"`
	Checkpoint int64  `json:"checkpoint"`
	// Anchor is the mark (store.Change.Mark) of the change at AnchorAt,
	// the feed's last change when the last step had read what it wrote
	// (feedmark.go): the next step checks that the feed still holds it.
	// Absent in a manifest older than it, and for an empty feed.
	Anchor   string        `json:"anchor,omitempty"`
	AnchorAt int64         `json:"anchor_at,omitempty"`
	Periods  []periodEntry `json:"periods"`
}

type periodEntry struct {
	Dir string `json:"dir"`
	// Start (ms) routes: a message of time t goes to the last period
	// whose Start is at most t.
	Start int64 `json:"start"`
	// Weight estimates the bytes of index written to the period: for
	// every document indexed in it (edits too, deletions not taken off)
	// periodDocBytes and twice its text (docWeight). Absent in a
	// manifest older than it, which closes its periods by documents.
	Weight int64 `json:"weight,omitempty"`
}

// period is one Bleve index of the set.
type period struct {
	periodEntry
	// idx is the open index; nil while parked (shards.parkIdle). In a
	// set that parks, it is read and set under openMu (shards.index).
	idx    bleve.Index
	openMu sync.Mutex
	// wrote is the step (shards.step) that last wrote to it.
	wrote int
	// released names the batch (gen) and the segments after which
	// release handed back the period's mapped pages last (guarded by
	// merging). A batch changes it, even one that only deletes (a period
	// whose successor took its time is sent deletions of what the
	// successor takes, and looking them up maps its IDs' pages), and so
	// does a segment a merge made or Bleve's persister wrote to a file.
	released string
	// weight is the entry's Weight as the steps committed so far left
	// it; the manifest is written with it.
	weight atomic.Int64
	// lo and hi bound the (clamped) times of what the index may hold;
	// lo > hi when it holds nothing. They only widen while open (a step
	// widens them before its batch commits, so a search never misses a
	// committed document) and are read afresh from the index at open.
	lo, hi atomic.Int64
	// gen moves before and after every batch written to idx, so that
	// what is read from the index between two moves (months) is known
	// to be current.
	gen atomic.Uint64
	mu  sync.Mutex // guards the months cache
	// monthsGen and monthList cache the index's months (reading them
	// from the dictionary was a tenth of a time-ordered search).
	monthsGen uint64
	monthList []string
	// merging is held while the indexer merges the period (merge): a
	// second merge asked meanwhile waits, then finds it done.
	merging sync.Mutex
}

// batch writes a batch to the period's index.
func (p *period) batch(b *bleve.Batch) error {
	p.gen.Add(1)
	defer p.gen.Add(1)
	return p.idx.Batch(b)
}

// months lists the period's months, oldest first (a copy: the caller may
// reorder it). A batch committing while they are read moves gen after it
// commits, so the next search reads them again.
func (p *period) months() ([]string, error) {
	g := p.gen.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.monthList != nil && p.monthsGen == g {
		return slices.Clone(p.monthList), nil
	}
	ms, err := months(p.idx)
	if err != nil {
		return nil, err
	}
	if ms == nil {
		ms = []string{}
	}
	p.monthsGen, p.monthList = g, ms
	return slices.Clone(ms), nil
}

func (p *period) covers(ts int64) bool { return p.lo.Load() <= ts && ts <= p.hi.Load() }

func (p *period) widen(ts int64) {
	for lo := p.lo.Load(); ts < lo && !p.lo.CompareAndSwap(lo, ts); lo = p.lo.Load() {
	}
	for hi := p.hi.Load(); ts > hi && !p.hi.CompareAndSwap(hi, ts); hi = p.hi.Load() {
	}
}

// shards is the set of period indexes the Indexer searches.
type shards struct {
	path string
	// legacy: a single index of an older format at path, which serves
	// (with its own checkpoint) until its replacement is swapped in.
	legacy     bool
	format     string
	keys       string // manifest.Keys
	checkpoint atomic.Int64
	// anchor is the feed's last change when the last step had read what
	// it wrote (feedmark.go); nil if not known.
	anchor atomic.Pointer[posMark]
	// journal is the last steps, oldest first (feedmark.go: each from
	// the moment its anchor is on disk, whether written or not),
	// and base the anchor before its oldest (nil: not known; position
	// 0: the feed's origin). Only the catch-up reads and writes them.
	journal []journalStep
	base    *posMark
	periods []*period // by Start, oldest first
	// merging counts the merges of closed periods under way (compact);
	// close waits for them, and closed tells them to give up.
	merging sync.WaitGroup
	closed  atomic.Bool
	// parking: the set closes the periods the catch-up leaves idle
	// (parkIdle) and reopens them with config when written to again.
	// Only a rebuild's set parks: nothing searches it. The live set
	// releases them instead (release).
	parking bool
	config  map[string]any
	// step counts the catch-up's steps written (parkIdle).
	step int
}

// parkAfter is how many steps a period may go unwritten before a
// rebuild's set parks it: rooms imported one after another take the feed
// through time once per room, so a period idle this long is usually left
// until the next room's pass, and each pass opens it once.
const parkAfter = 4

// index is the period's open index, reopened if it was parked.
func (s *shards) index(p *period) (bleve.Index, error) {
	if !s.parking {
		return p.idx, nil
	}
	p.openMu.Lock()
	defer p.openMu.Unlock()
	if p.idx == nil {
		idx, err := openBleve(filepath.Join(s.path, p.Dir), s.config)
		if err != nil {
			return nil, fmt.Errorf("reopen index period %s: %w", p.Dir, err)
		}
		p.idx = idx
	}
	return p.idx, nil
}

// parkIdle parks (or, in the live set, releases) the closed periods no
// step has written to for parkAfter steps. Every open period keeps its
// segment files mapped, as much of them as a merge or a lookup touched, in
// folios as large as the page cache holds them: at 3M IRC messages 28
// periods kept 280 MiB of the index's files resident in a reindex, most of
// a 420-440 MiB peak.
func (s *shards) parkIdle(log *slog.Logger) {
	if len(s.periods) == 0 {
		return
	}
	for _, p := range s.periods[:len(s.periods)-1] {
		if s.step-p.wrote >= parkAfter {
			s.rest(p, log)
		}
	}
}

// rest parks a period of a rebuild's set, and releases one of the live
// set, which searches may read at any time.
func (s *shards) rest(p *period, log *slog.Logger) {
	if s.parking {
		s.park(p, log)
	} else {
		s.release(p, log)
	}
}

// release hands back the pages of a period's segment files that the
// process has mapped, and drops them from the page cache (releaseMapped),
// leaving the index open: the next search to touch them maps them again,
// from disk in small folios. archive-web following a large import of long
// Markdown messages peaked at 313-318 MiB at 1M, with ~4 MiB mapped in
// each idle period of ~20, and at 459 MiB at 3M; releasing them, at 243
// and 263-272. A period released and not written to or merged since is
// left (a search may have touched it since, and would read its pages from
// disk again). A period being merged is left too: the merge maps it
// whole, and its new segment is released after it. The segments are held
// (a snapshot) while their mappings are released, so that none is
// unmapped meanwhile.
func (s *shards) release(p *period, log *slog.Logger) {
	if !p.merging.TryLock() {
		return
	}
	defer p.merging.Unlock()
	adv, err := p.idx.Advanced()
	if err != nil || s.closed.Load() {
		return
	}
	r, err := adv.Reader()
	snap, ok := r.(*scorch.IndexSnapshot)
	if err != nil || !ok || snap == nil {
		return // closed meanwhile: Reader is no snapshot
	}
	defer snap.Close()
	var files []string
	for _, seg := range snap.Segments() {
		if f, ok := seg.Segment().(interface{ Path() string }); ok && f.Path() != "" {
			files = append(files, f.Path())
		}
	}
	key := fmt.Sprint(p.gen.Load(), files)
	if key == p.released {
		return
	}
	// Tried once a change: a failure (no /proc) is not logged every step.
	p.released = key
	if err := releaseMapped(files); err != nil {
		log.Warn("releasing the memory an idle period of the search index holds", "period", p.Dir, "err", err)
	}
}

// park closes a period's index, unmapping its files, and drops them from
// the page cache, so that a reopen maps small folios of what it touches
// (DropFromPageCache). A period being merged is left open: the merge
// holds it.
func (s *shards) park(p *period, log *slog.Logger) {
	if !s.parking || !p.merging.TryLock() {
		return
	}
	defer p.merging.Unlock()
	p.openMu.Lock()
	defer p.openMu.Unlock()
	if p.idx == nil {
		return
	}
	err := p.idx.Close()
	p.idx = nil
	if err != nil {
		log.Warn("closing an idle period of the search index being built", "period", p.Dir, "err", err)
		return
	}
	if err := DropFromPageCache(filepath.Join(s.path, p.Dir)); err != nil {
		log.Warn("dropping an idle period of the search index from the page cache", "period", p.Dir, "err", err)
	}
}

// compact merges a closed period's index into one segment, in the
// background. Bleve's own merges leave up to ten segments of a size,
// about 9,000 documents each in a catch-up's batches, and each segment
// holds its own dictionaries: a period of ten took half again the bytes
// of one (475 against 308 per message), and opening each costs the
// process pages of its own (the mmapped file around every field's start,
// some 2 MB a segment). A closed period takes few writes after this (an
// edit or a deletion of an old message), which Bleve's merges handle.
// Closing the index ends a merge under way, and nothing takes it up at the
// next Open: merging maps the period's whole files into the process (a
// period of long messages, 200 MB), which archive-web's start must not
// pay; Bleve's own merges leave at most ten segments.
func (s *shards) compact(p *period, log *slog.Logger) {
	s.merging.Add(1)
	go func() {
		defer s.merging.Done()
		s.merge(p, log)
	}()
}

// compactClosed merges, one after another in the background, the closed
// periods left in more than one segment. A catch-up through a large
// backlog calls it at its end: rooms imported one after another take the
// feed through time once per room, so a period merged when it closed
// takes writes again later (at 3M IRC messages a reindex left 11-20
// segments in every closed period, 207 in all, and opening them kept
// 254 MiB of the index's files resident in archive-web). One at a time,
// because a merge maps its period's whole files into the process.
func (s *shards) compactClosed(log *slog.Logger) {
	closed := slices.Clone(s.periods[:len(s.periods)-1])
	s.merging.Add(1)
	go func() {
		defer s.merging.Done()
		start, merged := time.Now(), 0
		for _, p := range closed {
			if s.merge(p, log) {
				merged++
			}
			// The merge mapped its files whole; a set that
			// parks is a rebuild's, whose catch-up is over, so
			// nothing writes to it any more.
			s.rest(p, log)
		}
		if merged > 0 {
			log.Info("merged the closed periods of the search index a catch-up wrote to", "periods", merged, "took", time.Since(start).Round(time.Millisecond))
		}
	}()
}

// merge merges the period's index down to one segment, and says whether
// it had more.
func (s *shards) merge(p *period, log *slog.Logger) bool {
	p.merging.Lock()
	defer p.merging.Unlock()
	idx, err := s.index(p)
	if err != nil {
		log.Warn("merging a closed period of the search index", "period", p.Dir, "err", err)
		return false
	}
	adv, err := idx.Advanced()
	sc, ok := adv.(*scorch.Scorch)
	if err != nil || !ok || segments(idx) <= 1 {
		return false
	}
	// One task joins every segment (oneMerge: the default single-segment
	// plan joins ten a task, and a period bulk-loaded in a hundred,
	// bulkMergePlan, would be merged again and again), but only those
	// Bleve's persister has written to files: a period just written to
	// takes more rounds, and a round that joined nothing waits a little
	// for the persister.
	stalled := 0
	for n := segments(idx); n > 1 && stalled < mergeStalls && !s.closed.Load(); {
		if err := sc.ForceMerge(context.Background(), oneMerge()); err != nil {
			log.Warn("merging a closed period of the search index", "period", p.Dir, "err", err)
			return true
		}
		after := segments(idx)
		if after >= n {
			stalled++
			time.Sleep(mergeStallWait)
		}
		n = after
	}
	s.waitPersisted(sc)
	return true
}

// waitPersisted waits, at most mergeStalls × mergeStallWait, until Bleve's
// persister has recorded the index's current root. A merge writes its
// segment's file at once, but the root naming it is recorded later; an
// index closed before that reopens in its old segments (Rebuild closes
// its periods right after merging them: one reopened in two segments).
func (s *shards) waitPersisted(sc *scorch.Scorch) {
	root, _ := sc.StatsMap()["CurRootEpoch"].(uint64)
	deadline := time.Now().Add(mergeStalls * mergeStallWait)
	for !s.closed.Load() && time.Now().Before(deadline) {
		if done, _ := sc.StatsMap()["LastPersistedEpoch"].(uint64); done >= root {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A merge gives up after mergeStalls rounds in a row that joined nothing,
// mergeStallWait apart: Bleve's persister writes a batch's segment within
// milliseconds, so the period is left to Bleve's own merges only when
// something else holds it back.
const (
	mergeStalls    = 50
	mergeStallWait = 100 * time.Millisecond
)

// oneMerge is a plan that merges an index to one segment in one task.
func oneMerge() *mergeplan.MergePlanOptions {
	o := mergeplan.SingleSegmentMergePlanOptions
	o.SegmentsPerMergeTask = 1 << 20
	return &o
}

// bulkMergePlan is the Bleve configuration of an index being built from
// scratch beside the live one (Rebuild), which nothing searches until it
// is swapped in: Bleve's default plan merges a catch-up's segments of some
// thousand documents ten at a time, tier after tier, and a closed period
// is merged down to one segment anyway (compact), so every document was
// rewritten three or four times. This plan leaves up to 32 segments of a
// size and merges them 32 at a time (a period of PeriodDocs in steps of
// 2,000 is written in about a hundred), and Rebuild merges each period
// once more. At 1M IRC messages a reindex took 146 s of CPU with the
// default plan, 135 with 128 a tier and 132 with 32, peak RSS 210, 253
// and 234 MiB (each segment open maps pages of its own). The
// swapped-in index is reopened with the default plan.
func bulkMergePlan() map[string]any {
	return map[string]any{"scorchMergePlanOptions": map[string]any{
		"MaxSegmentsPerTier": 32, "SegmentsPerMergeTask": 32,
	}}
}

// route is the period a message of time ts belongs in.
func (s *shards) route(ts int64) *period {
	k, _ := slices.BinarySearchFunc(s.periods, ts, func(p *period, t int64) int {
		if p.Start <= t {
			return -1
		}
		return 1
	})
	return s.periods[max(k-1, 0)]
}

func (s *shards) close() error {
	s.closed.Store(true)
	var errs []error
	for _, p := range s.periods {
		p.openMu.Lock()
		if p.idx != nil { // not parked
			errs = append(errs, p.idx.Close())
		}
		p.openMu.Unlock()
	}
	s.merging.Wait() // closing ended them
	return errors.Join(errs...)
}

func (s *shards) docCount() (uint64, error) {
	var n uint64
	for _, p := range s.periods {
		c, err := p.idx.DocCount()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// writeManifest replaces the manifest atomically: a crash leaves the old
// one or the new one, never a mix.
func (s *shards) writeManifest() error {
	m := manifest{Format: s.format, Keys: s.keys, Checkpoint: s.checkpoint.Load()}
	if a := s.anchor.Load(); a != nil {
		m.Anchor, m.AnchorAt = a.mark, a.pos
	}
	for _, p := range s.periods {
		e := p.periodEntry
		e.Weight = p.weight.Load()
		m.Periods = append(m.Periods, e)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.path, manifestName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.path, manifestName))
	}
	if err == nil {
		err = syncDir(s.path)
	}
	if err != nil {
		return fmt.Errorf("write index manifest: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// openBleve opens one Bleve index, failing with ErrLocked when another
// process holds it: bolt waits for its lock for ever by default, and a
// second archive-web (a reindex beside a running server) would hang.
func openBleve(path string, config map[string]any) (bleve.Index, error) {
	cfg := map[string]any{"bolt_timeout": lockWait.String()}
	for k, v := range config {
		cfg[k] = v
	}
	idx, err := bleve.OpenUsing(path, cfg)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, ErrLocked // not broken, only busy: never move it aside
	}
	return idx, err
}

// openShards opens the index at path: a set of periods, or a single index
// of an older format. bleve.ErrorIndexPathDoesNotExist when there is none.
func openShards(path string, config map[string]any) (*shards, error) {
	if _, err := os.Stat(filepath.Join(path, legacyMeta)); err == nil {
		idx, err := openBleve(path, config)
		if err != nil {
			return nil, err
		}
		s := &shards{path: path, legacy: true}
		if f, ferr := idx.GetInternal(formatKey); ferr == nil {
			s.format = string(f)
		}
		cp, err := checkpointOf(idx)
		if err != nil {
			idx.Close()
			return nil, err
		}
		s.checkpoint.Store(cp)
		// Its times are not read: an older format may lack them, and
		// it is searched whole anyway.
		p := &period{idx: idx}
		p.lo.Store(0)
		p.hi.Store(maxIndexTime)
		s.periods = []*period{p}
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(path, manifestName))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return nil, bleve.ErrorIndexPathDoesNotExist
		}
		return nil, fmt.Errorf("the index directory has no manifest")
	}
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read index manifest: %w", err)
	}
	if len(m.Periods) == 0 {
		return nil, fmt.Errorf("the index manifest lists no period")
	}
	s := &shards{path: path, format: m.Format, keys: m.Keys}
	s.checkpoint.Store(m.Checkpoint)
	if m.Anchor != "" && m.AnchorAt >= m.Checkpoint {
		s.anchor.Store(&posMark{pos: m.AnchorAt, mark: m.Anchor})
		s.base = s.anchor.Load() // checked at Open (checkStore)
	}
	if m.Checkpoint == 0 {
		s.base = &posMark{} // nothing indexed yet
	}
	listed := map[string]bool{}
	for i, e := range m.Periods {
		// Routing takes the last period whose start is at most a
		// message's time, so the list must be in order of start.
		if i > 0 && e.Start < m.Periods[i-1].Start {
			s.close()
			return nil, fmt.Errorf("the index manifest lists period %q, starting at %d, after one starting at %d", e.Dir, e.Start, m.Periods[i-1].Start)
		}
		if e.Dir == "" || strings.ContainsAny(e.Dir, `/\.`) {
			s.close()
			return nil, fmt.Errorf("the index manifest names a period %q", e.Dir)
		}
		idx, err := openBleve(filepath.Join(path, e.Dir), config)
		if err != nil {
			s.close()
			return nil, err
		}
		p := &period{periodEntry: e, idx: idx}
		p.weight.Store(e.Weight)
		s.periods = append(s.periods, p)
		listed[e.Dir] = true
		if err := p.readBounds(); err != nil {
			s.close()
			return nil, err
		}
	}
	// A period created by a split that crashed before the manifest named
	// it holds nothing the manifest's checkpoint relies on.
	entries, _ := os.ReadDir(path)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "p") && !listed[e.Name()] {
			os.RemoveAll(filepath.Join(path, e.Name()))
		}
	}
	return s, nil
}

// readBounds sets lo and hi from the index's document IDs (boundsOf).
func (p *period) readBounds() error {
	p.lo.Store(math.MaxInt64)
	p.hi.Store(-1)
	lo, hi, ok, err := boundsOf(p.idx)
	if err != nil || !ok {
		return err
	}
	p.widen(lo)
	p.widen(hi)
	return nil
}

// termRanger is what boundsOf reads of an index: its dictionary of
// document IDs from a term on.
type termRanger interface {
	FieldDictRange(field string, startTerm, endTerm []byte) (index.FieldDict, error)
}

// boundsOf is the earliest and the latest time of the documents of idx;
// ok is false when it holds none. Document IDs begin with their time,
// big-endian (docID), so the dictionary's order is time order: the
// earliest is the first term, the latest found by halving the range of
// times, each step one seek for the first term at or after a time. Read
// by walking every term instead, opening a 3M-message index touched each
// period's whole dictionary of IDs and left 254 MiB of the files mapped
// in the process before its first request.
func boundsOf(idx termRanger) (lo, hi int64, ok bool, err error) {
	// firstFrom is the time of the first document at or after ts.
	firstFrom := func(ts int64) (int64, bool, error) {
		d, err := idx.FieldDictRange(fieldID, appendTime(nil, ts), nil)
		if err != nil {
			return 0, false, err
		}
		defer d.Close()
		for {
			e, err := d.Next()
			if err != nil || e == nil {
				return 0, false, err
			}
			// Every ID is a docID; a term that is not is skipped, not
			// trusted.
			if t, _, ok := splitDocID(e.Term); ok && t >= ts {
				return t, true, nil
			}
		}
	}
	if lo, ok, err = firstFrom(0); err != nil || !ok {
		return 0, 0, false, err
	}
	// A document is at lo or later; none after top.
	hi, top := lo, int64(maxIndexTime)
	for hi < top {
		mid := hi + (top-hi+1)/2
		t, found, err := firstFrom(mid)
		if err != nil {
			return 0, 0, false, err
		}
		if found {
			hi = t
		} else {
			top = mid - 1
		}
	}
	return lo, hi, true, nil
}

// appendTime appends ts (an indexTime) as a docID begins: timeBytes
// bytes, big-endian.
func appendTime(b []byte, ts int64) []byte {
	for i := timeBytes - 1; i >= 0; i-- {
		b = append(b, byte(uint64(ts)>>(8*i)))
	}
	return b
}

// createShards makes a new, empty set of one period at path.
func createShards(path, format, keys string, newIndex func(string) (bleve.Index, error)) (*shards, error) {
	if err := os.MkdirAll(path, 0o750); err != nil {
		return nil, err
	}
	s := &shards{path: path, format: format, keys: keys}
	if _, err := s.addPeriod(0, newIndex); err != nil {
		return nil, err
	}
	if err := s.writeManifest(); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// addPeriod creates a period starting at start, after every period that
// starts at or before it (so that it takes their time from start on), and
// returns its place. Directories are numbered in the order periods are
// made: the number of periods is the next free one.
func (s *shards) addPeriod(start int64, newIndex func(string) (bleve.Index, error)) (int, error) {
	dir := fmt.Sprintf("p%04d", len(s.periods))
	full := filepath.Join(s.path, dir)
	os.RemoveAll(full) // a split that crashed before its manifest
	idx, err := newIndex(full)
	if err != nil {
		return 0, fmt.Errorf("create index period: %w", err)
	}
	// New, so not idle: a full period's successor takes writes from
	// the next step on.
	p := &period{periodEntry: periodEntry{Dir: dir, Start: start}, idx: idx, wrote: s.step}
	p.lo.Store(math.MaxInt64)
	p.hi.Store(-1)
	k := len(s.periods)
	for k > 0 && s.periods[k-1].Start > start {
		k--
	}
	s.periods = slices.Insert(s.periods, k, p)
	return k, nil
}

// removePeriod takes out, and closes, the period at k (one addPeriod made
// whose manifest could not be written).
func (s *shards) removePeriod(k int) {
	p := s.periods[k]
	s.periods = slices.Delete(s.periods, k, k+1)
	p.idx.Close()
}

// multiBatch routes a step's writes to the periods' batches.
type multiBatch struct {
	set     *shards
	batches map[half]*bleve.Batch
	// open holds the times of the documents routed to the newest
	// period: where it would be split.
	open []int64
	// took holds the periods documents were routed to: those that may
	// have become full.
	took map[*period]bool
	// weight is what the step adds to each period's weight.
	weight map[*period]int64
	// err is the first period that could not be reopened (shards.index),
	// which commit returns.
	err error
	// docs makes the documents, from the first period's mapping (every
	// period has the same).
	docs *docBuilder
	// name is an event's document ID (Indexer.docName).
	name func(ts int64, ev string) string
}

// half is one of the two batches a step writes to a period: each batch
// builds its segment on one core, so a period's share of a step is split
// in two by document ID (every write of one document in the same half, so
// their order holds) and the halves are built at once.
type half struct {
	p *period
	n uint32
}

func newMultiBatch(s *shards, name func(ts int64, ev string) string) *multiBatch {
	return &multiBatch{set: s, name: name, batches: map[half]*bleve.Batch{}, took: map[*period]bool{}, weight: map[*period]int64{}}
}

func (b *multiBatch) of(p *period, doc string) (*bleve.Batch, error) {
	h := fnv.New32a()
	h.Write([]byte(doc))
	k := half{p, h.Sum32() & 1}
	if x, ok := b.batches[k]; ok {
		return x, nil
	}
	idx, err := b.set.index(p)
	if err != nil {
		return nil, err
	}
	x := idx.NewBatch()
	b.batches[k] = x
	return x, nil
}

// deleteFrom deletes a document from a period; a period that cannot be
// reopened fails the step (commit).
func (b *multiBatch) deleteFrom(p *period, doc string) {
	x, err := b.of(p, doc)
	if err != nil {
		b.err = cmp.Or(b.err, err)
		return
	}
	x.Delete(doc)
}

func (b *multiBatch) Index(id string, data any) error {
	doc, ok := data.(document)
	if !ok {
		return fmt.Errorf("index %s: not a document", id)
	}
	ts, err := strconv.ParseInt(doc.TSort, 10, 64)
	if err != nil {
		return fmt.Errorf("index %s: time %q: %w", id, doc.TSort, err)
	}
	p := b.set.route(ts)
	full := b.name(ts, id)
	for _, q := range b.set.periods {
		if q != p && q.covers(ts) {
			b.deleteFrom(q, full) // indexed there before the period it is in now began
		}
	}
	p.widen(ts)
	b.took[p] = true
	b.weight[p] += docWeight(doc)
	if p == b.set.periods[len(b.set.periods)-1] {
		b.open = append(b.open, ts)
	}
	x, err := b.of(p, full)
	if err != nil {
		return err
	}
	if b.docs == nil {
		idx, err := b.set.index(p)
		if err != nil {
			return err
		}
		d, err := newDocBuilder(idx.Mapping())
		if err != nil {
			return err
		}
		b.docs = &d
	}
	return x.IndexAdvanced(b.docs.build(full, doc))
}

// Delete removes a document from the periods whose bounds cover its time.
// The time comes from the store even for a deleted row (its tombstone,
// store.EventTimes). Without it (ts < 0: an event deleted before
// tombstones kept times) the document ID cannot be named; it is left to
// the store check, which drops every hit the store no longer holds, and to
// DropExpired, which deletes by time what retention expired.
func (b *multiBatch) Delete(id string, ts int64) {
	if ts < 0 {
		return
	}
	full := b.name(ts, id)
	for _, q := range b.set.periods {
		if q.covers(ts) {
			b.deleteFrom(q, full)
		}
	}
}

// docID is a message's document ID in an index of format 10: its time (6
// bytes, big-endian ms: maxIndexTime fits), tagKey, and its event's key
// (store.IDKey: 8 bytes, big-endian), 15 bytes in all. Sorting by ID is
// then sorting by time, with the key breaking ties, and Bleve reads a
// hit's ID without decompressing anything: sorting by a doc-values field
// decoded a chunk of 1,024 documents' values per hit where hits are sparse
// (58% of a rare term's oldest-first search).
//
// The ID is held twice per document, as a term of the ID dictionary and
// stored. Formats 6 to 9 held the event ID itself (eventDocID: a hash
// event ID as its 32 bytes), 39 bytes, and that was 119 of the 226 bytes a
// message of an index of IRC lines (the dictionary 68, the stored copy
// 51): random bytes share no prefix in the dictionary. With 8 bytes of key,
// a hit names its event by time and key, and the store check finds it by
// its key (store.EventsByKey) and keeps it only if its time matches too.
func docID(ts int64, key uint64) string {
	b := appendTime(make([]byte, 0, keyDocIDLen), indexTime(ts))
	return string(binary.BigEndian.AppendUint64(append(b, tagKey), key))
}

// eventDocID is a document's ID in an index of formats 6 to 9, which may
// serve while one of this format is built beside it: its time and then its
// event ID. An event ID of room versions 4 and later ("$" and 43
// characters of unpadded base64url: a hash) is held as its 32 bytes
// (tagHash); any other as it is (tagRaw). Only a canonical encoding is
// decoded, so two event IDs never share a document (a lenient decoder
// ignores the last character's unused bits).
func eventDocID(ts int64, ev string) string {
	b := appendTime(make([]byte, 0, timeBytes+1+len(ev)), indexTime(ts))
	if b, ok := appendHash(append(b, tagHash), ev); ok {
		return string(b)
	}
	return string(append(append(b, tagRaw), ev...))
}

const (
	timeBytes   = 6
	tagHash     = 1
	tagRaw      = 2
	tagKey      = 3
	keyDocIDLen = timeBytes + 1 + 8
	hashChars   = 43 // base64 of 32 bytes, unpadded
)

var hashEncoding = base64.RawURLEncoding.Strict()

// appendHash appends the 32 bytes ev's hash encodes, if ev is a hash
// event ID in canonical form; else it returns b unchanged and false. It
// allocates nothing: a time-ordered search of an index of format 9 made a
// document ID of every hit it merged (mergeHits).
func appendHash(b []byte, ev string) ([]byte, bool) {
	if len(ev) != 1+hashChars || ev[0] != '$' {
		return b, false
	}
	var src, enc [hashChars]byte
	var h [33]byte // a byte more than a hash: a longer decoding is no hash
	copy(src[:], ev[1:])
	n, err := hashEncoding.Decode(h[:], src[:])
	if err != nil || n != 32 {
		return b, false
	}
	if hashEncoding.Encode(enc[:], h[:32]); string(enc[:]) != ev[1:] {
		return b, false
	}
	return append(b, h[:32]...), true
}

// splitDocID reads a document ID back: its time and what names its event,
// a ref. A ref is the event's key as 16 hexadecimal digits (keyRef) in an
// index of this format, its event ID (which begins with "$") in one of
// formats 6 to 9. A hit's sort keys are its time and ref (withTimes), and
// so is a time-ordered search's cursor.
func splitDocID(s string) (ts int64, ref string, ok bool) {
	if len(s) <= timeBytes {
		return 0, "", false
	}
	var t uint64
	for i := range timeBytes {
		t = t<<8 | uint64(s[i])
	}
	if t > maxIndexTime {
		return 0, "", false
	}
	switch rest := s[timeBytes+1:]; s[timeBytes] {
	case tagKey:
		if len(rest) != 8 {
			return 0, "", false
		}
		return int64(t), keyRef(binary.BigEndian.Uint64([]byte(rest))), true
	case tagHash:
		if len(rest) != 32 {
			return 0, "", false
		}
		return int64(t), "$" + hashEncoding.EncodeToString([]byte(rest)), true
	case tagRaw:
		return int64(t), rest, true
	}
	return 0, "", false
}

// keyRef is a key as a ref (splitDocID); parseKeyRef reads one back, and
// only one: an event ID begins with "$".
func keyRef(key uint64) string { return fmt.Sprintf("%016x", key) }

func parseKeyRef(ref string) (uint64, bool) {
	if len(ref) != 16 || strings.Trim(ref, "0123456789abcdef") != "" {
		return 0, false
	}
	k, err := strconv.ParseUint(ref, 16, 64)
	return k, err == nil
}

// refDocID is the document ID a time and ref name (a hit's sort keys, a
// cursor's), in the layout the ref is of: a cursor made before this
// format's index was swapped in names an event ID, and is read in the
// older layout; at the time it names, ties order by tag before key, so a
// page may repeat or miss hits of that one millisecond across the swap.
func refDocID(ts int64, ref string) string {
	if k, ok := parseKeyRef(ref); ok {
		return docID(ts, k)
	}
	return eventDocID(ts, ref)
}

// commit writes every period's batch, two at a time (the machine's cores:
// each period's batch is one writer). afterEach, if set, runs after each
// period's batch committed (a test's crash point).
func (b *multiBatch) commit(afterEach func() error) error {
	if b.err != nil {
		return b.err
	}
	b.set.step++
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, 2)
	for k, x := range b.batches {
		p := k.p
		p.wrote = b.set.step
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := p.batch(x)
			if err == nil && afterEach != nil {
				err = afterEach()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("period %s: %w", p.Dir, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// docWeight is what indexing doc adds to its period's weight.
func docWeight(doc document) int64 { return periodDocBytes + 2*int64(len(doc.Text)) }

// weigh adds the step's weights to its periods, once its batches
// committed; unweigh takes them off again, when the manifest that would
// have recorded them could not be written (the step will be replayed).
func (b *multiBatch) weigh() {
	for p, w := range b.weight {
		p.weight.Add(w)
	}
}

func (b *multiBatch) unweigh() {
	for p, w := range b.weight {
		p.weight.Add(-w)
	}
}

// splits says where the periods a step wrote to should be split: the
// starts of the periods to add. The newest period, once it holds
// periodDocs or weighs periodBytes, ends at the median of the times the
// step put in it; any other period the step routed a message to, once full
// (fullPeriodDocs, fullPeriodBytes), gets a successor with its own start,
// which takes its whole time from then on. So does the newest period when
// its median does not lie after its start (every time the step put in it
// equal, or a far-future one).
func (b *multiBatch) splits(periodDocs int, periodBytes int64) ([]int64, error) {
	var starts []int64
	newest := b.set.periods[len(b.set.periods)-1]
	for _, p := range b.set.periods {
		if !b.took[p] {
			continue
		}
		idx, err := b.set.index(p)
		if err != nil {
			return nil, err
		}
		docs, err := idx.DocCount()
		if err != nil {
			return nil, fmt.Errorf("period %s: %w", p.Dir, err)
		}
		w := p.weight.Load()
		if p == newest && (docs >= uint64(periodDocs) || w >= periodBytes) {
			if at, ok := splitAt(b.open, p.Start); ok {
				starts = append(starts, at)
				continue
			}
		}
		if docs >= uint64(fullPeriodDocs(periodDocs)) || w >= fullPeriodBytes(periodBytes) {
			starts = append(starts, p.Start)
		}
	}
	return starts, nil
}

// fullPeriodDocs is how many documents a period may hold before it takes
// no more messages: half again PeriodDocs (fullPeriodBytes: and what it
// may weigh). A period closes at PeriodDocs and a step more; the slack
// lets a closed period take the later feed's edits and a little late
// history without a period more, which every search asks (a time-ordered
// one only where its times overlap the page; relevance always). The bound
// is on memory: merging a period maps its files whole (1.1 KB a message of
// long Markdown), and a closed period of 498k such messages took a
// reindex to 804 MiB peak RSS.
func fullPeriodDocs(periodDocs int) int { return periodDocs + periodDocs/2 }

func fullPeriodBytes(periodBytes int64) int64 { return periodBytes + periodBytes/2 }

// splitAt is where the newest period should end, given the times a step
// put in it: their median, if it lies after the period's start.
func splitAt(open []int64, start int64) (int64, bool) {
	if len(open) == 0 {
		return 0, false
	}
	ts := slices.Clone(open)
	slices.Sort(ts)
	m := ts[len(ts)/2]
	return m, m > start
}

// segments is how many segments an index has, counted in its current
// snapshot: Scorch's statistics (TotFileSegmentsAtRoot and
// TotMemorySegmentsAtRoot) are counted before a batch's new segment is
// added to the root (introducer.go), so right after a write they said one
// segment fewer, and a merge of a period just written to could stop early.
func segments(idx bleve.Index) int {
	adv, err := idx.Advanced()
	if err != nil {
		return 0
	}
	sc, ok := adv.(*scorch.Scorch)
	if !ok {
		return 0
	}
	r, err := sc.Reader()
	if err != nil {
		return 0
	}
	// A closed index has no snapshot: Reader answers a nil one, which
	// neither Segments nor Close may be called on (a merge running while
	// the index closes asks for it).
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok || snap == nil {
		return 0
	}
	defer snap.Close()
	return len(snap.Segments())
}
