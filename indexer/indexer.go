package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/unicodenorm"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	bolterrors "go.etcd.io/bbolt/errors"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// Document field names.
const (
	fieldText   = "text"
	fieldSender = "sender"
	fieldRoom   = "room"
	// fieldTSort is the time as 13 decimal digits of milliseconds, the
	// only field with doc values: sorting reads one short term per hit,
	// where the numeric field's doc values hold all its shifted terms
	// (a chunk of those cost ~20 µs to decode per hit).
	fieldTSort    = "tsort"
	fieldHasLink  = "has_link"
	fieldIsThread = "is_thread"
	// fieldMonth ("2026-03") partitions the index by time, so a search
	// sorted by time can walk it month by month and stop early.
	fieldMonth = "month"
	// fieldDay ("2026-03-14") matches date filters (whole UTC days) with
	// the months they cover. A numeric time field would add sixteen terms
	// per message (one per precision shift), more than a line's words.
	fieldDay = "day"
)

// checkpointKey holds, inside the index, the last change-feed position the
// index reflects. It is written in the same batch as the documents, so a
// crash can never leave the two disagreeing.
var checkpointKey = []byte("mxarchive.checkpoint")

// errNoIndex: a failed Rebuild could not reopen any index.
var errNoIndex = errors.New("the search index is not open (a rebuild failed; restart archive-web)")

// Options configure the index.
type Options struct {
	// Language, if set (an analyzer Bleve knows: en, de, fr, es, it, …),
	// adds that language's stemming; otherwise text is split into words by
	// Unicode word segmentation and lower-cased, which suits multilingual
	// rooms.
	Language string
	// BatchSize is how many changes one index batch covers.
	BatchSize int
	// PollInterval is how often Follow looks for new changes (default
	// 200 ms: where the store cannot notify, SQLite, a new message waits
	// for the next poll, and the target for it to be searchable is
	// 500 ms at p99; a poll with nothing new is one indexed read).
	PollInterval time.Duration
}

// Indexer keeps a Bleve index in step with the store.
type Indexer struct {
	store *store.Store
	log   *slog.Logger
	opts  Options
	path  string

	mu  sync.RWMutex // guards idx against Rebuild swapping it
	idx bleve.Index

	sortAllLimit int // see search.go; a field so tests can force either path

	// wait is Follow's timer between rounds (time.After); a field so tests
	// can count the back-off with a fake clock.
	wait func(time.Duration) <-chan time.Time
	// stale: the open index has another format; CatchUp rebuilds it.
	stale atomic.Bool
}

const (
	analyzerName = "mxarchive"
	// textAnalyzer indexes the text field: the words and their pairs
	// (pairs.go).
	textAnalyzer = "mxarchive_text"
	nfkcFilter   = "mxarchive_nfkc"
)

// formatKey holds, inside the index, the version of its layout
// (indexFormat). An index of another version is rebuilt at start.
var formatKey = []byte("mxarchive.format")

// indexFormat: 3 = word pairs instead of term positions, doc values only
// for the time, as a short term (fieldTSort); 4 = no composite _all field
// and no numeric time field (dates by fieldDay and fieldMonth).
const indexFormat = "4"

func newMapping(language string) (mapping.IndexMapping, error) {
	m := bleve.NewIndexMapping()
	// Compatibility-normalize (full-width letters, ligatures) before
	// lower-casing, so differently encoded words match.
	if err := m.AddCustomTokenFilter(nfkcFilter, map[string]any{"type": unicodenorm.Name, "form": unicodenorm.NFKC}); err != nil {
		return nil, err
	}
	base := map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []string{nfkcFilter, lowercase.Name},
	}
	if err := m.AddCustomAnalyzer(analyzerName, base); err != nil {
		return nil, err
	}
	analyzer := analyzerName
	pairs := map[string]any{"type": pairsAnalyzerType, "tokenizer": base["tokenizer"], "token_filters": base["token_filters"]}
	if language != "" {
		analyzer = language
		pairs = map[string]any{"type": pairsAnalyzerType, "base": language}
	}
	if err := m.AddCustomAnalyzer(textAnalyzer, pairs); err != nil {
		return nil, err
	}
	text := bleve.NewTextFieldMapping()
	text.Analyzer = textAnalyzer
	text.Store = false
	// Phrases are matched with word pairs (pairs.go), not positions.
	text.IncludeTermVectors = false
	// Only the time is sorted on (fieldTSort), so only it keeps doc values;
	// nothing needs term vectors. Both cost index size for nothing.
	text.DocValues = false
	kw := bleve.NewKeywordFieldMapping()
	kw.Store = false
	kw.IncludeTermVectors = false
	kw.DocValues = false
	tsort := bleve.NewKeywordFieldMapping()
	tsort.Store = false
	tsort.IncludeTermVectors = false
	tsort.DocValues = true
	flag := bleve.NewBooleanFieldMapping()
	flag.Store = false
	flag.DocValues = false
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldText, text)
	doc.AddFieldMappingsAt(fieldSender, kw)
	doc.AddFieldMappingsAt(fieldRoom, kw)
	doc.AddFieldMappingsAt(fieldTSort, tsort)
	doc.AddFieldMappingsAt(fieldHasLink, flag)
	doc.AddFieldMappingsAt(fieldIsThread, flag)
	doc.AddFieldMappingsAt(fieldMonth, kw)
	doc.AddFieldMappingsAt(fieldDay, kw)
	// No query reads Bleve's composite "_all" field (every one names its
	// field), yet by default it holds every field's terms again, with
	// positions: it doubled the index.
	doc.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())
	m.DefaultMapping = doc
	m.DefaultAnalyzer = analyzer
	m.StoreDynamic = false
	m.IndexDynamic = false
	m.DocValuesDynamic = false
	return m, nil
}

// Open opens the index at path, creating it if it is missing. An index that
// cannot be opened (corrupt, or from an incompatible version) is moved aside
// and rebuilt from the store by following the change feed from the start:
// the index is derived data, and a reader must not be kept from the archive
// by a broken one.
func Open(st *store.Store, path string, opts Options, log *slog.Logger) (*Indexer, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 2000
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	ix := &Indexer{store: st, log: log, opts: opts, path: path, sortAllLimit: sortAllLimit, wait: time.After}
	// Bleve's root file is locked for as long as a process has the index
	// open, and bolt waits for the lock for ever by default: a second
	// archive-web (a reindex beside a running server) would hang silently.
	idx, err := bleve.OpenUsing(path, map[string]any{"bolt_timeout": lockWait.String()})
	if errors.Is(err, bolterrors.ErrTimeout) {
		// Not broken, only busy: never move it aside.
		return nil, fmt.Errorf("open search index %s: %w", path, ErrLocked)
	}
	if err == nil {
		if format, ferr := idx.GetInternal(formatKey); ferr != nil || string(format) != ix.format() {
			// Derived data in another layout: it keeps answering (every
			// hit is still checked against the store; filters on fields
			// it lacks match less) while the first CatchUp builds one in
			// this layout beside it and swaps it in, as Rebuild does.
			log.Info("the search index has another format or language; it will be rebuilt beside the old one, which serves until then", "path", path, "format", string(format), "want", ix.format(), "err", ferr)
			ix.stale.Store(true)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, bleve.ErrorIndexPathDoesNotExist):
		log.Info("creating the search index; it will be filled from the archive", "path", path)
		idx, err = ix.create(path)
	default:
		aside := path + ".broken-" + time.Now().UTC().Format("20060102T150405")
		log.Error("the search index cannot be opened; moving it aside and rebuilding it", "path", path, "moved_to", aside, "err", err)
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("move broken index aside: %w (opening it failed with: %v)", rerr, err)
		}
		idx, err = ix.create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	ix.idx = idx
	return ix, nil
}

// create makes a new, empty index. Batches are persisted before Batch
// returns (Bleve's default): measured on an idle machine, skipping that
// ("unsafe_batch") gained nothing here, and Close does not flush unpersisted
// batches, which once lost a new index's mapping.
func (ix *Indexer) create(path string) (bleve.Index, error) {
	m, err := newMapping(ix.opts.Language)
	if err != nil {
		return nil, err
	}
	idx, err := bleve.New(path, m)
	if err != nil {
		return nil, err
	}
	if err := idx.SetInternal(formatKey, []byte(ix.format())); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

// format is what the index records of how it was built: the layout and
// the configured language, so that changing either rebuilds it.
func (ix *Indexer) format() string { return indexFormat + "/" + ix.opts.Language }

// Close closes the index.
func (ix *Indexer) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.idx == nil {
		return nil // a failed Rebuild left nothing open, or closed already
	}
	// Bleve panics on a second Close; a closed Indexer just says so.
	err := ix.idx.Close()
	ix.idx = nil
	return err
}

// Checkpoint returns the change-feed position the index reflects.
func (ix *Indexer) Checkpoint() (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return 0, errNoIndex
	}
	return checkpointOf(ix.idx)
}

func checkpointOf(idx bleve.Index) (int64, error) {
	b, err := idx.GetInternal(checkpointKey)
	if err != nil || len(b) == 0 {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// DocCount returns how many messages the index holds.
func (ix *Indexer) DocCount() (uint64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.idx == nil {
		return 0, errNoIndex
	}
	return ix.idx.DocCount()
}

// document is what the index holds of one visible message.
type document struct {
	Text     string `json:"text"`
	Sender   string `json:"sender"`
	Room     string `json:"room"`
	TSort    string `json:"tsort"`
	HasLink  bool   `json:"has_link"`
	IsThread bool   `json:"is_thread"`
	Month    string `json:"month"`
	Day      string `json:"day"`
}

// BleveType names the document mapping (the default one).
func (document) BleveType() string { return "_default" }

// indexable reports whether a stored event belongs in the index.
func indexable(e *store.Event, room store.Room) bool {
	return e.Public && !e.Redacted && !e.Expired && !e.OptedOut && e.Displayable() && room.Shown()
}

// sortableTime writes a time (ms) so that string order is time order.
func sortableTime(ms int64) string { return fmt.Sprintf("%013d", max(ms, 0)) }

func monthOf(ms int64) string { return time.UnixMilli(ms).UTC().Format("2006-01") }

func dayOf(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.DateOnly) }

// hasLink reads the message's own text: a link in the quoted reply
// fallback is someone else's (and may have been redacted since).
func hasLink(msg event.Message) bool {
	s := msg.Body + " " + event.StripReplyFallbackHTML(msg.FormattedBody)
	return strings.Contains(s, "http://") || strings.Contains(s, "https://")
}

// maxIndexTime is the largest time of 13 digits of ms (November 2286):
// the index's time fields hold times clamped to 1970–2286, where their
// text order (13 digits, "2006-01") is time order and a cursor is what
// decodeCursor accepts. A hostile origin_server_ts outside that sorts at
// the end it is beyond; the store keeps the real one.
const maxIndexTime = 9_999_999_999_999

func newDocument(e *store.Event, msg event.Message, threadRoot bool) document {
	ts := min(max(e.OriginTS, 0), maxIndexTime)
	text := msg.Body
	// A captioned file: the body is the caption, the name is findable too.
	if msg.FileName != "" && text != msg.FileName {
		text += " " + msg.FileName
	}
	return document{
		Text: text, Sender: string(e.Sender), Room: string(e.RoomID), TSort: sortableTime(ts),
		HasLink: hasLink(msg), IsThread: threadRoot || e.Rel.Type == event.RelThread,
		Month: monthOf(ts), Day: dayOf(ts),
	}
}

// roomCache remembers rooms for one batch.
type roomCache struct {
	st    *store.Store
	rooms map[id.RoomID]store.Room
}

func (rc *roomCache) get(ctx context.Context, roomID id.RoomID) (store.Room, error) {
	if r, ok := rc.rooms[roomID]; ok {
		return r, nil
	}
	r, err := rc.st.Room(ctx, roomID)
	if err != nil {
		return store.Room{}, err
	}
	rc.rooms[roomID] = r
	return r, nil
}

// ErrLocked is returned by Open when another process holds the index.
var ErrLocked = errors.New("the search index is in use by another process")

// lockWait is how long Open waits for another process to let go of the
// index (one closing as another starts) before returning ErrLocked.
const lockWait = 2 * time.Second
