package indexer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/unicodenorm"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// Document field names.
const (
	fieldText   = "text"
	fieldSender = "sender"
	fieldRoom   = "room"
	// fieldTSort was the time as 13 decimal digits of milliseconds, for
	// time ranges (timerange.go) and a period's bounds. Format 4 sorted
	// on its doc values, formats 5 and 6 sort on document IDs (docID);
	// format 7 no longer indexes it: it was one more term for every
	// document (11% of a 1M reindex's CPU), and the document ID, which
	// begins with the time, serves both (fieldID).
	fieldTSort = "tsort"
	// fieldID is Bleve's field of document IDs: a term range over it is
	// a time range (docID), as is its dictionary's first and last term.
	fieldID       = "_id"
	fieldHasLink  = "has_link"
	fieldIsThread = "is_thread"
	fieldIsPoll   = "is_poll"
	// fieldMonth ("2026-03") partitions the index by time, so a search
	// sorted by time can walk it month by month and stop early.
	fieldMonth = "month"
	// fieldDay ("2026-03-14") matches date filters (whole UTC days) with
	// the months they cover. A numeric time field would add sixteen terms
	// per message (one per precision shift), more than a line's words.
	fieldDay = "day"
)

// checkpointKey held, inside an index of format 4 or older, the last
// change-feed position it reflects; such an index serves with it until its
// replacement is swapped in. The manifest holds it now (periods.go).
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
	// PeriodDocs is how many documents a period of the index holds
	// before the next one begins (periods.go; default 100,000).
	PeriodDocs int
	// PeriodBytes is how much a period may weigh, in bytes of index as
	// estimated from its documents' text (docWeight), before the next
	// one begins, whatever PeriodDocs allows: a period is merged, and so
	// mapped into the process, whole (default 40 MiB, which short chat
	// lines never reach: 100,000 IRC lines weigh some 37 MB).
	PeriodBytes int64
	// bleveConfig is passed to every period's Bleve index when it is
	// created or opened (tests set merge plans).
	bleveConfig map[string]any
}

// Indexer keeps a Bleve index in step with the store.
type Indexer struct {
	store *store.Store
	log   *slog.Logger
	opts  Options
	path  string

	mu  sync.RWMutex // guards set against Rebuild swapping it and a split growing it
	set *shards

	// See search.go; fields so tests can force either path.
	sortAllLimit, atOnceLimit, dayWalkHits int
	// dayWindows and monthWindows count the day and month windows walks
	// have asked, periodBounds the periods whose hits rarePeriods bounded
	// (for tests).
	dayWindows, monthWindows, periodBounds atomic.Int64

	// wait is Follow's timer between rounds (time.After); a field so tests
	// can count the back-off with a fake clock.
	wait func(time.Duration) <-chan time.Time
	// stale: the open index has another format, another store's keys or
	// a checkpoint past the feed's head or where the feed holds another
	// change; CatchUp rebuilds it.
	stale atomic.Bool
	// wrongKeys: the open index names its documents by another store's
	// keys (keyscheme.go); Search refuses until the rebuild is swapped in.
	wrongKeys atomic.Bool
	// ahead: the open index's checkpoint is past the feed's head, or
	// the feed holds another change there (a restored database,
	// feedmark.go); it serves, but its position is not reported.
	ahead atomic.Bool
	// keysChecked: checkKeys has run; verified: checkStore has run through
	// (at Open, or, if the store failed there, before a catch-up).
	keysChecked, verified atomic.Bool
	// headChecked is when checkHead last read the feed's head (Unix ns).
	headChecked atomic.Int64
	// building is the set a Rebuild is filling (Checkpoint reports its
	// position while the live index's is not trusted).
	building atomic.Pointer[shards]
	// builder: this Indexer fills a Rebuild's set; it checks nothing
	// against the feed's head (the live one does).
	builder bool
	// afterCommit, if set, runs after each period's batch of a step has
	// committed (tests crash there).
	afterCommit func() error
	// asked, if set, is told each period a search asks for hits (tests
	// count them).
	asked func(period string)
	// oldNames, if set, names documents as formats 6 to 9 did
	// (eventDocID): tests build an index such a format left.
	oldNames bool
}

// docName is the ID of the document of event ev at time ts (docID).
func (ix *Indexer) docName(ts int64, ev string) string {
	if ix.oldNames {
		return eventDocID(ts, ev)
	}
	return docID(ts, ix.store.IDKey(id.EventID(ev)))
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
// and no numeric time field (dates by fieldDay and fieldMonth); 5 = one
// index per period of time, with a manifest (periods.go), document IDs that
// begin with the time and no doc values; 6 = document IDs of the time in
// 6 bytes and a hash event ID in its 32 (docID), a closed period merged to
// one segment; 7 = no time field (fieldTSort): time ranges and a period's
// bounds read the document IDs (fieldID), and the flags only when set; 8 =
// word pairs hashed into pairBuckets terms (pairs.go); 9 = the text
// field's length counts words, up to maxTextLength (docfields.go); 10 =
// document IDs of the time and the event's key (docID), not its ID; 11 =
// a pair's bucket holds no frequency or length, and a phrase is scored by
// its words (textField, searchTerms); 12 = a word's term is at most
// maxWordBytes (capWord); 13 = the starts of polls are documents too, of
// their question and answers (searchable); 14 = a poll's document is
// flagged (fieldIsPoll); 15 = words lower-cased by our own filter
// (lowerFilter: Bleve's cut a word after an İ).
const indexFormat = "15"

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
		"token_filters": []string{nfkcFilter, lowerName},
	}
	if err := m.AddCustomAnalyzer(analyzerName, base); err != nil {
		return nil, err
	}
	analyzer := analyzerName
	pairs := map[string]any{"type": pairsAnalyzerType, "tokenizer": base["tokenizer"], "token_filters": base["token_filters"], "buckets": pairBuckets}
	if language != "" {
		analyzer = language
		pairs = map[string]any{"type": pairsAnalyzerType, "base": language, "buckets": pairBuckets}
	}
	if err := m.AddCustomAnalyzer(textAnalyzer, pairs); err != nil {
		return nil, err
	}
	text := bleve.NewTextFieldMapping()
	text.Analyzer = textAnalyzer
	text.Store = false
	// Phrases are matched with word pairs (pairs.go), not positions.
	text.IncludeTermVectors = false
	// Nothing sorts on a field (time order is document ID order) and
	// nothing needs term vectors: both would cost index size for nothing.
	text.DocValues = false
	kw := bleve.NewKeywordFieldMapping()
	kw.Store = false
	kw.IncludeTermVectors = false
	kw.DocValues = false
	flag := bleve.NewBooleanFieldMapping()
	flag.Store = false
	flag.DocValues = false
	doc := bleve.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldText, text)
	doc.AddFieldMappingsAt(fieldSender, kw)
	doc.AddFieldMappingsAt(fieldRoom, kw)
	doc.AddFieldMappingsAt(fieldHasLink, flag)
	doc.AddFieldMappingsAt(fieldIsThread, flag)
	doc.AddFieldMappingsAt(fieldIsPoll, flag)
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
	if opts.PeriodDocs <= 0 {
		opts.PeriodDocs = defaultPeriodDocs
	}
	if opts.PeriodBytes <= 0 {
		opts.PeriodBytes = defaultPeriodBytes
	}
	ix := &Indexer{store: st, log: log, opts: opts, path: path, sortAllLimit: sortAllLimit, atOnceLimit: atOnceLimit, dayWalkHits: dayWalkHits, wait: time.After}
	set, err := openShards(path, opts.bleveConfig)
	if errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("open search index %s: %w", path, ErrLocked)
	}
	if err == nil && (set.legacy || set.format != ix.format()) {
		// Derived data in another layout: it keeps answering (every
		// hit is still checked against the store; filters on fields
		// it lacks match less) while the first CatchUp builds one in
		// this layout beside it and swaps it in, as Rebuild does.
		log.Info("the search index has another format or language; it will be rebuilt beside the old one, which serves until then", "path", path, "format", set.format, "want", ix.format())
		ix.stale.Store(true)
	}
	switch {
	case err == nil:
	case errors.Is(err, bleve.ErrorIndexPathDoesNotExist):
		log.Info("creating the search index; it will be filled from the archive", "path", path)
		set, err = ix.create(path)
	default:
		aside := path + ".broken-" + time.Now().UTC().Format("20060102T150405")
		log.Error("the search index cannot be opened; moving it aside and rebuilding it", "path", path, "moved_to", aside, "err", err)
		if rerr := os.Rename(path, aside); rerr != nil {
			return nil, fmt.Errorf("move broken index aside: %w (opening it failed with: %v)", rerr, err)
		}
		set, err = ix.create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("open search index %s: %w", path, err)
	}
	ix.set = set
	// Before it serves: an index over another kind of database, or ahead
	// of a restored one's feed, is rebuilt (keyscheme.go). A store that
	// does not answer now is asked again before the first catch-up.
	if err := ix.checkStore(context.Background()); err != nil {
		log.Warn("could not check the search index against the database; checking again before indexing", "path", path, "err", err)
	}
	return ix, nil
}

// create makes a new, empty index of one period.
func (ix *Indexer) create(path string) (*shards, error) {
	return createShards(path, ix.format(), keyScheme(ix.store), ix.newIndex)
}

// newIndex makes one period's Bleve index. Batches are persisted before
// Batch returns (Bleve's default): the manifest's checkpoint may only
// name what is on disk.
func (ix *Indexer) newIndex(path string) (bleve.Index, error) {
	m, err := newMapping(ix.opts.Language)
	if err != nil {
		return nil, err
	}
	// A copy: Bleve writes the store's path and create flags into the
	// map it is given, and a map shared by every period then opened each
	// later one at the last created period's path (its mapping missing).
	idx, err := bleve.NewUsing(path, m, bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, maps.Clone(ix.opts.bleveConfig))
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
	if ix.set == nil {
		return nil // a failed Rebuild left nothing open, or closed already
	}
	// Bleve panics on a second Close; a closed Indexer just says so.
	err := ix.set.close()
	ix.set = nil
	return err
}

// Checkpoint returns the change-feed position the index reflects. While
// the live index is rebuilt because its position or its keys do not match
// the store (keyscheme.go), it is the position the rebuild has reached (0
// before it starts): a checkpoint past the feed's head would make the
// index's lag negative, and /readyz ready.
func (ix *Indexer) Checkpoint() (int64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.untrusted() {
		if b := ix.building.Load(); b != nil {
			return b.checkpoint.Load(), nil
		}
		return 0, nil
	}
	if ix.set == nil {
		return 0, errNoIndex
	}
	return ix.set.checkpoint.Load(), nil
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
	if ix.set == nil {
		return 0, errNoIndex
	}
	return ix.set.docCount()
}

// document is what the index holds of one visible message.
type document struct {
	Text   string `json:"text"`
	Sender string `json:"sender"`
	Room   string `json:"room"`
	// TSort routes the document to its period (multiBatch.Index); the
	// mapping does not index it (fieldTSort).
	TSort string `json:"tsort"`
	// The flags are nil unless set: a filter only ever asks for a set
	// flag, and a false one was one more term for nearly every message.
	HasLink  *bool  `json:"has_link"`
	IsThread *bool  `json:"is_thread"`
	IsPoll   *bool  `json:"is_poll"`
	Month    string `json:"month"`
	Day      string `json:"day"`
}

// BleveType names the document mapping (the default one).
func (document) BleveType() string { return "_default" }

// indexable reports whether a stored event belongs in the index.
func indexable(e *store.Event, room store.Room) bool {
	return e.Public && !e.Redacted && !e.Expired && !e.OptedOut && e.Readable() && room.Shown()
}

// searchable is what e's document holds, as a message (newDocument): a
// message's text as readers see it (res, event.Resolve's of it), or a
// poll's question and answers (event.Poll.Text) as its page shows them,
// unedited. ok is false for what has no text to find: a message that
// cannot be shown, a poll start whose content is not a poll.
func searchable(e *store.Event, res event.Resolved) (event.Message, bool) {
	if !e.PollStart() {
		return res.Searchable()
	}
	p, ok := event.ParsePoll(e.Content)
	if !ok {
		return event.Message{}, false
	}
	return event.Message{MsgType: event.MsgText, Body: p.Text()}, true
}

// sortableTime writes a time (ms) so that string order is time order.
func sortableTime(ms int64) string { return fmt.Sprintf("%013d", max(ms, 0)) }

// indexTime is a message's time as the index holds it (maxIndexTime).
func indexTime(ms int64) int64 { return min(max(ms, 0), maxIndexTime) }

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
	ts := indexTime(e.OriginTS)
	text := msg.Body
	// A captioned file: the body is the caption, the name is findable too.
	if msg.FileName != "" && text != msg.FileName {
		text += " " + msg.FileName
	}
	return document{
		Text: text, Sender: string(e.Sender), Room: string(e.RoomID), TSort: sortableTime(ts),
		// A poll sent "in a thread" is not in it: a thread lists messages
		// (event.Resolve, the thread page), and its day shows it as any
		// poll. It can be a thread's root.
		HasLink: flagOf(hasLink(msg)), IsThread: flagOf(threadRoot || e.Rel.Type == event.RelThread && e.Displayable()),
		IsPoll: flagOf(e.PollStart()),
		Month:  monthOf(ts), Day: dayOf(ts),
	}
}

// flagOf is a document's flag: set, or absent.
func flagOf(on bool) *bool {
	if !on {
		return nil
	}
	return &on
}

// roomCache remembers rooms for one batch.
type roomCache struct {
	st     *store.Store
	rooms  map[id.RoomID]store.Room
	absent map[id.RoomID]bool // rooms the store does not know (fill)
	// listing: fill reads with the rooms whether each asks not to be
	// listed, into unlisted (a search's cache: RoomsByIDListed)
	listing  bool
	unlisted map[id.RoomID]bool
}

// fill reads the rooms of these events that it does not hold yet, in one
// query.
func (rc *roomCache) fill(ctx context.Context, evs []store.Event) error {
	rooms := make([]id.RoomID, len(evs))
	for i, e := range evs {
		rooms[i] = e.RoomID
	}
	return rc.fillRooms(ctx, rooms)
}

// fillRooms reads the rooms among these that it does not hold yet, in one
// query.
func (rc *roomCache) fillRooms(ctx context.Context, rooms []id.RoomID) error {
	var want []id.RoomID
	for _, r := range rooms {
		if _, ok := rc.rooms[r]; !ok && !rc.absent[r] && !slices.Contains(want, r) {
			want = append(want, r)
		}
	}
	if len(want) == 0 {
		return nil
	}
	var got map[id.RoomID]store.Room
	var err error
	if rc.listing {
		var unlisted map[id.RoomID]bool
		if got, unlisted, err = rc.st.RoomsByIDListed(ctx, want); err != nil {
			return err
		}
		if rc.unlisted == nil {
			rc.unlisted = map[id.RoomID]bool{}
		}
		maps.Copy(rc.unlisted, unlisted)
	} else if got, err = rc.st.RoomsByID(ctx, want); err != nil {
		return err
	}
	for _, r := range want {
		if room, ok := got[r]; ok {
			rc.rooms[r] = room
			continue
		}
		if rc.absent == nil {
			rc.absent = map[id.RoomID]bool{}
		}
		rc.absent[r] = true
	}
	return nil
}

func (rc *roomCache) get(ctx context.Context, roomID id.RoomID) (store.Room, error) {
	if r, ok := rc.rooms[roomID]; ok {
		return r, nil
	}
	if rc.absent[roomID] {
		return store.Room{}, fmt.Errorf("room %s: %w", roomID, store.ErrNotFound)
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
