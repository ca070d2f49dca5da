package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// Format of an import file.
type Format string

// The formats the importer reads.
const (
	FormatAuto    Format = ""
	FormatNDJSON  Format = "ndjson"  // one client-format event per line, as /messages returns them
	FormatElement Format = "element" // Element's "Export chat" JSON
)

// ImportOptions tune an import.
type ImportOptions struct {
	Format Format
	// AssumeWorldReadable vouches that rooms whose history visibility the
	// file does not state were world-readable (Element exports often omit it).
	AssumeWorldReadable bool
	// BatchSize is the most events per database transaction, and
	// BatchBytes the most bytes of their JSON (0: DefaultBatchSize, or
	// PostgresBatchSize on PostgreSQL, and DefaultBatchBytes); a batch
	// ends at whichever it reaches first.
	BatchSize  int
	BatchBytes int
	// batched, if set, is told each batch's events and bytes (tests).
	batched func(events, bytes int)
	// Source names the path for the quarantine's records: import (the
	// default) or backfill.
	Source store.Source
	// RouteUnclaimedAliases lets the file's rooms route the aliases their
	// state claims where no other room claims them: an operator's import
	// has no homeserver directory to verify them with. A backfill leaves
	// it off (the archiver verifies aliases with the directory).
	RouteUnclaimedAliases bool
	// Progress, if set, is called now and then with the bytes read so far
	// in the current pass and the file's size.
	Progress func(p Progress)
	// Media, if set, receives the attachments of an Element export ZIP
	// (at most MediaMaxSize bytes each; 0: no bound).
	Media        media.Blobs
	MediaMaxSize int64
	// MediaMaxTotal bounds the media store's bytes, as media.max_total
	// bounds the fetcher's (0: no bound): an attachment that would pass
	// it is reported and left to the fetcher, which waits for space.
	MediaMaxTotal int64
	// IRC says where an IRC log's lines go; an IRC log is refused without
	// it. Importing one vouches that the channel was public.
	IRC *IRCOptions
	// order, set by a backfill, is the room's order of its spool file's
	// visibility changes; each event is judged by it too.
	order *historyOrder
}

// Progress is a snapshot of a running import.
type Progress struct {
	File       string
	Pass       int // 1: state events, 2: everything else
	BytesRead  int64
	BytesTotal int64
	Events     int
}

// LineError is one rejected line (or, in an export, message) of an import.
type LineError struct {
	Line int // 1-based line in an NDJSON file; message index + 1 in an export
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// ImportReport says what an import did.
type ImportReport struct {
	File     string
	Format   Format
	Events   int // valid events read
	Rejected []LineError
	// Changed are the lines of an IRC log whose place in the channel's
	// history the archive holds with other content (irc.go).
	Changed []LineError
	// OtherRoom are the lines of an IRC log the archive holds in another
	// room (ErrIRCOtherRoom, naming it), imported into it before: counted
	// among the Duplicates.
	OtherRoom []LineError
	// WithdrawnLines are the lines of an IRC log the archive deleted on
	// purpose before (ErrIRCWithdrawn): counted in Withdrawn, left out.
	WithdrawnLines []LineError
	// QuarantinedLines are the lines (message indexes in an export) whose
	// events the database refused: quarantined, the rest imported.
	QuarantinedLines []LineError
	Result
	// Rooms lists the rooms the file had events for.
	Rooms []id.RoomID
	// Unstated lists rooms whose history visibility neither the file nor
	// the archive states, whose messages were therefore archived only if
	// AssumeWorldReadable was set. A room the archive already knows (an
	// earlier import, the appservice) is judged by that state, so a file
	// of its messages alone is archived and not listed here.
	Unstated []id.RoomID
	// Media counts the attachments of an Element export ZIP put into the
	// media store; MediaErrors the ones that could not be.
	Media       int
	MediaErrors []error
}

// An import writes its events in transactions of DefaultBatchSize events,
// or fewer when their JSON reaches DefaultBatchBytes. Each transaction
// rewrites every page of the events' indexes it touches, and an event ID
// lands on a page of the index that finds it at random. When the batch
// size was chosen, that was a unique index on the ID's text, 14,515 pages
// at 1M messages, of which 10,000 random IDs touch about half and 50,000
// about all, so each page was written for 2.6 times as many events
// (archiver import, alternated, 10,000 against 50,000: the 1M IRC replay
// 47-63 s against 41-59, medians 56 and 45; the 3M one 182 against 165).
// SQLite's is now of the ID's hash (store/idh.go), 4,580 pages at 1M.
// The bytes keep a batch of long messages from holding as many: an
// import holds two batches at once (one written, the next read), some
// 150 MB more than at 10,000 for the 1M replay. A batch also holds
// SQLite's write lock for as long as it is written, two or three seconds
// at this size, within busy_timeout's ten for the archiver's own writes;
// an import into a live archive on a slow disk may want -batch lower.
//
// PostgreSQL logs rows, not the pages a transaction touched, and gained
// nothing from the larger batches (the 1M IRC replay, alternated: 51-52
// s against 53) but their memory: it keeps PostgresBatchSize.
const (
	DefaultBatchSize  = 50_000
	PostgresBatchSize = 10_000
	DefaultBatchBytes = 16 << 20
)

// full says whether a batch of events holding bytes of their JSON is
// full: it ends at BatchSize events or with the event that brought it to
// BatchBytes.
func (o ImportOptions) full(events, bytes int) bool {
	return events >= o.BatchSize || bytes >= o.BatchBytes
}

// maxLine bounds one NDJSON line, an event as received (unsigned data and
// all); longer lines are rejected, not buffered.
const maxLine = event.MaxReceivedSize + 1024

// ErrNoEvents is returned for a file with no valid event at all.
var ErrNoEvents = errors.New("no valid events in file")

// ErrQuarantined is the LineError of an event the database refused: it
// is kept aside (archiver quarantine lists it) and the rest imported.
var ErrQuarantined = errors.New("refused by the database; quarantined")

// ImportFile imports one file. Malformed lines are reported in the report
// and skipped; the good ones are all imported. Importing the same file again
// changes nothing.
//
// An import that stored analyzeAfter events or more (an operator's file,
// or a large room's backfill through its spool file) leaves the
// database's statistics fresh and its visibility map whole
// (store.AfterBulkWrite), even when it failed part way: the pages and
// searches that follow it are planned for what it wrote, and its counts
// read their index alone.
func (in *Ingester) ImportFile(ctx context.Context, path string, opts ImportOptions) (ImportReport, error) {
	rep, err := in.importFile(ctx, path, opts)
	if rep.Stored >= analyzeAfter {
		if aerr := in.store.AfterBulkWrite(ctx); aerr != nil {
			// The import itself is done: its statistics and the
			// visibility map will follow with autovacuum.
			in.log.Warn("vacuuming and analyzing the database after the import", "file", path, "err", aerr)
		}
	}
	return rep, err
}

// analyzeAfter is the fewest events an import stores that makes it vacuum
// the events and refresh the database's statistics (0.8 s and 0.9 s after
// an import of 1M events that took 52 s).
const analyzeAfter = 10000

func (in *Ingester) importFile(ctx context.Context, path string, opts ImportOptions) (ImportReport, error) {
	if isZip(path) {
		return in.importZip(ctx, path, opts)
	}
	rep := ImportReport{File: path, Format: opts.Format}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
		if in.store.Dialect() == "postgres" {
			opts.BatchSize = PostgresBatchSize
		}
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.Source == "" {
		opts.Source = store.SourceImport
	}
	src, format, err := openSource(path, rep.Format, opts.IRC)
	if err != nil {
		return rep, err
	}
	rep.Format = format
	is, irc := src.(*ircSource)
	if irc {
		opts.AssumeWorldReadable = true // the operator vouches by importing it
	}

	// The rooms vouched for (AssumeWorldReadable) are vouched for before
	// their first event is judged, state events included: vouched only
	// with the messages of pass 2, an IRC log's joins, parts, nick and
	// topic changes (and a vouched export's member events) were stored
	// not public, and no day showed them. A room is vouched for only if
	// the file does not state its history visibility: one that does is
	// judged by it, its state before a world_readable visibility hidden.
	assumed := map[id.RoomID]bool{}
	// A vouch is for this file's events: it ends with the file, or a file
	// naming a room with one state event and no visibility would vouch
	// for a later file's history of that room, which states its own.
	defer in.endVouches(assumed)
	if opts.AssumeWorldReadable {
		vouch, err := vouchedRooms(ctx, src, is)
		if err != nil {
			return rep, err
		}
		for _, r := range vouch {
			if err := in.AssumeWorldReadable(ctx, r); err != nil {
				return rep, err
			}
			assumed[r] = true
		}
	}

	// Pass 1: state events only, in timeline order, so that pass 2 judges
	// every message by the state in force when it was sent, whatever order
	// the file is in. They are written in batches as they are read: held
	// until the file's end, a channel's years of joins and quits in one
	// file (WeeChat's) took some 2.6 KB of memory each.
	var state []*event.Event
	var stateLines []int
	size := 0 // the batch's bytes of JSON
	// made holds the events of the room an IRC import makes for its
	// channel (line 0), written apart: kept, never shown (ingestUnshown).
	var made []*event.Event
	var madeLines []int
	madeSize := 0
	rooms := map[id.RoomID]bool{}
	stated := map[id.RoomID]bool{}
	write := func(evs []*event.Event, lines []int, size int, unshown bool) error {
		if len(evs) == 0 {
			return nil
		}
		if opts.batched != nil {
			opts.batched(len(evs), size)
		}
		read := len(evs)
		if irc {
			var dups int
			var err error
			if evs, lines, dups, err = in.placeLines(ctx, evs, lines); err != nil {
				return fmt.Errorf("import %s: %s: %w", path, lineRange(lines), err)
			}
			rep.Result.Duplicates += dups
		}
		ingest := func(ctx context.Context, src store.Source, evs []*event.Event) (Result, error) {
			return in.ingestLines(ctx, src, evs, lines, opts.order)
		}
		if unshown {
			ingest = in.ingestUnshown
		}
		r, err := ingest(ctx, opts.Source, evs)
		if err != nil {
			return fmt.Errorf("import %s: %s: %w", path, lineRange(lines), err)
		}
		rep.Result.Add(r)
		rep.QuarantinedLines = append(rep.QuarantinedLines, quarantinedLines(r, evs, lines)...)
		if irc {
			found, err := in.changedLines(ctx, r, evs, lines)
			if err != nil {
				return fmt.Errorf("import %s: %w", path, err)
			}
			rep.addIRCLines(found)
		}
		rep.Events += read
		return nil
	}
	writeState := func() error {
		err := write(state, stateLines, size, false)
		state, stateLines, size = nil, nil, 0
		return err
	}
	err = src.each(ctx, true, opts.progress(path, 1), func(line int, ev *event.Event) error {
		rooms[ev.RoomID] = true
		if irc && line == 0 {
			made = append(made, ev)
			madeLines = append(madeLines, line)
			madeSize += len(ev.Raw)
			return nil
		}
		state = append(state, ev)
		stateLines = append(stateLines, line)
		size += len(ev.Raw)
		if ev.Type == event.TypeHistoryVisibility {
			stated[ev.RoomID] = true
		}
		if opts.full(len(state), size) {
			return writeState()
		}
		return nil
	}, nil)
	if err == nil {
		err = writeState()
	}
	if err == nil {
		err = write(made, madeLines, madeSize, true)
	}
	if err != nil {
		return rep, err
	}

	// Pass 2: everything else, in batches. Reading and parsing run in their
	// own goroutine, one batch ahead of the writes, so the two overlap.
	type batchMsg struct {
		evs    []*event.Event
		lines  []int     // each event's line
		assume id.RoomID // vouch for this room before writing the batch
	}
	batches := make(chan batchMsg) // the reader builds one batch ahead
	readErr := make(chan error, 1)
	rctx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var rejected []LineError
	go func() {
		defer close(batches)
		batch := make([]*event.Event, 0, min(opts.BatchSize, 1024))
		lines := make([]int, 0, cap(batch))
		size := 0 // the batch's bytes of JSON
		send := func(m batchMsg) bool {
			if opts.batched != nil && len(m.evs) > 0 {
				opts.batched(len(m.evs), size)
			}
			size = 0
			select {
			case batches <- m:
				return true
			case <-rctx.Done():
				return false
			}
		}
		err := src.each(rctx, false, opts.progress(path, 2), func(line int, ev *event.Event) error {
			rooms[ev.RoomID] = true
			if !stated[ev.RoomID] && opts.AssumeWorldReadable && !assumed[ev.RoomID] {
				assumed[ev.RoomID] = true
				if !send(batchMsg{evs: batch, lines: lines, assume: ev.RoomID}) {
					return rctx.Err()
				}
				batch = make([]*event.Event, 0, cap(batch))
				lines = make([]int, 0, cap(lines))
			}
			batch = append(batch, ev)
			lines = append(lines, line)
			size += len(ev.Raw)
			if opts.full(len(batch), size) {
				if !send(batchMsg{evs: batch, lines: lines}) {
					return rctx.Err()
				}
				batch = make([]*event.Event, 0, cap(batch))
				lines = make([]int, 0, cap(lines))
			}
			return nil
		}, func(le LineError) { rejected = append(rejected, le) })
		if err == nil && len(batch) > 0 && !send(batchMsg{evs: batch, lines: lines}) {
			err = rctx.Err()
		}
		readErr <- err
	}()
	var writeErr error
	for b := range batches {
		if writeErr != nil {
			stopReading()
			continue // drain so the reader can finish
		}
		if len(b.evs) > 0 && irc {
			read := len(b.evs)
			var dups int
			var err error
			if b.evs, b.lines, dups, err = in.placeLines(ctx, b.evs, b.lines); err != nil {
				writeErr = fmt.Errorf("import %s: %s: %w", path, lineRange(b.lines), err)
				continue
			}
			rep.Result.Duplicates += dups
			rep.Events += read - len(b.evs)
		}
		if len(b.evs) > 0 {
			r, err := in.ingestLines(ctx, opts.Source, b.evs, b.lines, opts.order)
			if err != nil {
				writeErr = fmt.Errorf("import %s: %s: %w", path, lineRange(b.lines), err)
				continue
			}
			rep.Result.Add(r)
			rep.QuarantinedLines = append(rep.QuarantinedLines, quarantinedLines(r, b.evs, b.lines)...)
			if irc {
				found, err := in.changedLines(ctx, r, b.evs, b.lines)
				if err != nil {
					writeErr = fmt.Errorf("import %s: %w", path, err)
					continue
				}
				rep.addIRCLines(found)
			}
			rep.Events += len(b.evs)
		}
		if b.assume != "" {
			if err := in.AssumeWorldReadable(ctx, b.assume); err != nil {
				writeErr = err
			}
		}
	}
	err = <-readErr
	rep.Rejected = rejected
	if writeErr != nil {
		return rep, writeErr
	}
	if err != nil {
		return rep, err
	}
	for r := range rooms {
		rep.Rooms = append(rep.Rooms, r)
		if stated[r] {
			continue
		}
		known, err := in.visibilityKnown(ctx, r)
		if err != nil {
			return rep, err
		}
		if !known {
			rep.Unstated = append(rep.Unstated, r)
		}
	}
	if opts.RouteUnclaimedAliases {
		for _, r := range rep.Rooms {
			conflicts, err := in.store.RouteUnclaimedAliases(ctx, r)
			if err != nil {
				return rep, fmt.Errorf("import %s: %w", path, err)
			}
			for _, c := range conflicts {
				in.log.Warn("alias claimed by another room too; this room keeps room-ID URLs",
					"room_id", r, "alias", c.Alias, "other_room_id", c.Other)
			}
		}
	}
	if es, ok := src.(*elementSource); ok && len(rep.Rooms) == 1 {
		if err := in.store.SetFallbackMeta(ctx, rep.Rooms[0], es.header.RoomName, es.header.Topic); err != nil {
			return rep, err
		}
	}
	if rep.Events == 0 {
		return rep, fmt.Errorf("import %s: %w (%d lines rejected)", path, ErrNoEvents, len(rep.Rejected))
	}
	return rep, nil
}

// ingestLines is IngestFrom for a batch of a file's events (evs, read
// from lines), judged by the room's order as well where the file is in
// it (order, a backfill's).
func (in *Ingester) ingestLines(ctx context.Context, src store.Source, evs []*event.Event, lines []int, order *historyOrder) (Result, error) {
	if order == nil {
		return in.IngestFrom(ctx, src, evs)
	}
	return in.ingestOrdered(ctx, src, evs, order.of(evs, lines))
}

// vouchedRooms returns the rooms with state events in an import's file
// (src; is, if it is an IRC log) whose history visibility the file does
// not state: the rooms AssumeWorldReadable vouches for before its first
// pass. An IRC log's events all go to the one room its options name, and
// no line states a visibility, so the log is not read for them. Any
// other file's state events are read once more for it: which rooms the
// file states a visibility of is known only at the end of the first
// pass, which writes as it reads. The rooms of messages alone are
// vouched for as the second pass comes to them.
func vouchedRooms(ctx context.Context, src eventSource, is *ircSource) ([]id.RoomID, error) {
	if is != nil {
		return []id.RoomID{is.opts.Room}, nil
	}
	var order []id.RoomID
	seen, stated := map[id.RoomID]bool{}, map[id.RoomID]bool{}
	err := src.each(ctx, true, nil, func(_ int, ev *event.Event) error {
		if !seen[ev.RoomID] {
			seen[ev.RoomID] = true
			order = append(order, ev.RoomID)
		}
		if ev.Type == event.TypeHistoryVisibility {
			stated[ev.RoomID] = true
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(order, func(r id.RoomID) bool { return stated[r] }), nil
}

// quarantinedLines names the lines of the events of a batch (evs, read
// from lines) that the store quarantined.
func quarantinedLines(r Result, evs []*event.Event, lines []int) []LineError {
	var out []LineError
	for i, ev := range evs {
		if slices.Contains(r.Quarantined, ev.ID) {
			out = append(out, LineError{Line: lines[i], Err: fmt.Errorf("event %s: %w", ev.ID, ErrQuarantined)})
		}
	}
	return out
}

// lineRange names the lines of a batch that could not be written, so the
// operator knows where the import stopped.
func lineRange(lines []int) string {
	if len(lines) == 0 {
		return "no lines"
	}
	lo, hi := slices.Min(lines), slices.Max(lines)
	if lo == hi {
		return fmt.Sprintf("line %d", lo)
	}
	return fmt.Sprintf("the batch of lines %d to %d", lo, hi)
}

func (o ImportOptions) progress(file string, pass int) func(read, total int64, events int) {
	if o.Progress == nil {
		return nil
	}
	return func(read, total int64, events int) {
		o.Progress(Progress{File: file, Pass: pass, BytesRead: read, BytesTotal: total, Events: events})
	}
}

// openSource opens an import file in the given format, detected when
// FormatAuto, and returns the format it used. irc is needed for IRC logs.
func openSource(path string, format Format, irc *IRCOptions) (eventSource, Format, error) {
	if format == FormatAuto {
		f, err := sniff(path)
		if err != nil {
			return nil, format, err
		}
		format = f
	}
	if format.IsIRC() {
		s, err := newIRCSource(path, format, irc)
		return s, format, err
	}
	switch format {
	case FormatNDJSON:
		return &ndjsonSource{path: path}, format, nil
	case FormatElement:
		es, err := readElementExport(path)
		if err != nil {
			return nil, format, err
		}
		return es, format, nil
	}
	return nil, format, fmt.Errorf("import %s: unknown format %q (want ndjson, element or irc:FORMAT)", path, format)
}

// ReadFile calls fn with every valid event of an import file (state events
// first, each group in file order), as ImportFile would read them, without
// storing anything; malformed events are skipped. It returns the format.
func ReadFile(ctx context.Context, path string, format Format, fn func(*event.Event) error) (Format, error) {
	src, format, err := openSource(path, format, nil)
	if err != nil {
		return format, err
	}
	for _, stateOnly := range []bool{true, false} {
		if err := src.each(ctx, stateOnly, nil, func(_ int, ev *event.Event) error { return fn(ev) }, nil); err != nil {
			return format, err
		}
	}
	return format, nil
}

// eventSource yields a file's valid events with their line numbers.
// stateOnly asks for state events only (and no error reports).
type eventSource interface {
	each(ctx context.Context, stateOnly bool, progress func(read, total int64, events int),
		fn func(line int, ev *event.Event) error, reject func(LineError)) error
}

// detectFormat tells an Element export (one JSON object with a "messages"
// array, usually pretty-printed) from NDJSON (one event per line).
func detectFormat(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64*1024)
	first, err := r.ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("import %s: %w", path, err)
	}
	first = bytes.TrimSpace(first)
	if len(first) == 0 {
		return "", fmt.Errorf("import %s: the file is empty or starts with a blank line", path)
	}
	if bytes.Equal(first, []byte("{")) {
		return FormatElement, nil
	}
	// An export on one line: its first object has "messages". Read as
	// tokens, not the line whole: the line may be longer than the buffer
	// (an export of any size written without line breaks), or hold an
	// event nested deeper than a decoder of the line allows; both were
	// taken for NDJSON, one line of it rejected.
	if first[0] == '{' {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("import %s: %w", path, err)
		}
		if topLevelKey(json.NewDecoder(bufio.NewReader(f)), "messages") {
			return FormatElement, nil
		}
	}
	return FormatNDJSON, nil
}

// topLevelKey reports whether the object dec starts with has the key,
// decoding the values before it (an Element export's header: a few
// strings) and stopping at the key or the object's end.
func topLevelKey(dec *json.Decoder, key string) bool {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false
		}
		if t == key {
			return true
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
	}
	return false
}

// mayBeState reports whether an event's JSON may be a state event's: it
// says "state_key", or holds a key with an escape (\u), which can spell
// it ("state\u005fkey") as a parser reads it. One that does neither is
// passed over unparsed in a pass of state events; an escaped key was
// passed over, and the event dropped by the pass of the rest as state
// (helper-92: an export's history visibility so lost, every message was
// judged not public). An escape in a value (Go's encoder writes < as
// \u003c in every formatted body) is not looked at further: the string
// it is in is followed by a comma or a brace, not a colon.
func mayBeState(raw []byte) bool {
	if bytes.Contains(raw, []byte(`"state_key"`)) {
		return true
	}
	for i := 0; i < len(raw); {
		j := bytes.Index(raw[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		k := i + j + 2
		for k < len(raw) && raw[k] != '"' { // to the string's end
			if raw[k] == '\\' {
				k++
			}
			k++
		}
		for k++; k < len(raw) && (raw[k] == ' ' || raw[k] == '\t' || raw[k] == '\n' || raw[k] == '\r'); k++ {
		}
		if k < len(raw) && raw[k] == ':' {
			return true
		}
		i = k
	}
	return false
}

type ndjsonSource struct{ path string }

func (s *ndjsonSource) each(ctx context.Context, stateOnly bool, progress func(int64, int64, int),
	fn func(int, *event.Event) error, reject func(LineError)) error {
	return eachLine(ctx, s.path, false, progress, func(line int, b []byte, tooLong bool) (bool, error) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			return false, nil
		}
		// A state event must say "state_key"; skipping the rest unparsed
		// keeps the first pass cheap.
		if stateOnly && !mayBeState(b) {
			return false, nil
		}
		var ev *event.Event
		var err error
		if tooLong {
			err = fmt.Errorf("%w: line longer than %d bytes", event.ErrMalformed, maxLine)
		} else {
			ev, err = event.Parse(b)
		}
		if err != nil {
			if reject != nil {
				reject(LineError{Line: line, Err: err})
			}
			return false, nil
		}
		if ev.IsState() != stateOnly {
			return false, nil
		}
		return true, fn(line, ev)
	}, nil)
}

// eachLine reads a file line by line for the line-based formats (NDJSON,
// IRC logs): fn gets each line's number (from 1), its bytes and whether it
// was cut at maxLine, and says whether the line gave an event. Every 1,024
// lines it checks ctx and reports progress; at the end, after done (which
// may add events of its own; nil for none), it reports once more. With
// loneCR (IRC logs) a carriage return that is not followed by a line feed
// ends a line too (loneCRs).
func eachLine(ctx context.Context, path string, loneCR bool, progress func(int64, int64, int),
	fn func(line int, b []byte, tooLong bool) (bool, error), done func() (int, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	var total int64
	if st, err := f.Stat(); err == nil {
		total = st.Size()
	}
	var in io.Reader = f
	if loneCR {
		in = newLoneCRs(f)
	}
	r := bufio.NewReaderSize(in, 1<<20)
	var read int64
	line, events := 0, 0
	lastReport := time.Now()
	for {
		b, tooLong, err := readLine(r)
		read += int64(len(b))
		if len(b) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("import %s: line %d: %w", path, line+1, err)
		}
		line++
		if line%1024 == 0 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if progress != nil && time.Since(lastReport) > 200*time.Millisecond {
				progress(read, total, events)
				lastReport = time.Now()
			}
		}
		ok, err := fn(line, b, tooLong)
		if err != nil {
			return err
		}
		if ok {
			events++
		}
	}
	if done != nil {
		n, err := done()
		if err != nil {
			return err
		}
		events += n
	}
	if progress != nil {
		progress(read, total, events)
	}
	return nil
}

// loneCRs reads r with each carriage return that is not followed by a
// line feed read as a line feed. An IRC client on the classic Mac OS ended
// its log's lines with a CR alone, and a log put together from several
// files may hold some such lines: each was read as part of one line, the
// whole file at worst, whose CRs the decoder then dropped as control
// characters, one message of every line and no line reported. No IRC
// line holds a CR (the protocol ends its lines with CR LF), so a lone CR
// in a log ends a line.
type loneCRs struct {
	r    io.Reader
	pend int     // a byte read ahead to tell what a CR ends, not yet given; -1 for none
	err  error   // the reader's error, given once what was read before it is
	one  [1]byte // the read ahead
}

func newLoneCRs(r io.Reader) *loneCRs { return &loneCRs{r: r, pend: -1} }

func (c *loneCRs) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	if c.pend >= 0 {
		p[0], n, c.pend = byte(c.pend), 1, -1
	}
	if n < len(p) && c.err == nil {
		m, err := c.r.Read(p[n:])
		n, c.err = n+m, err
	}
	if n == 0 {
		return 0, c.err
	}
	for i := 0; i < n-1; i++ {
		if p[i] == '\r' && p[i+1] != '\n' {
			p[i] = '\n'
		}
	}
	if p[n-1] == '\r' {
		// The next byte tells: read it now, and give it next time. A
		// read that gave nothing, while a byte was kept back, made
		// bufio give up ("multiple Read calls return no data").
		for tries := 0; c.err == nil && c.pend < 0; tries++ {
			m, err := c.r.Read(c.one[:])
			switch {
			case m == 1:
				c.pend = int(c.one[0])
			case err != nil:
				c.err = err
			case tries == 100:
				c.err = io.ErrNoProgress
			}
		}
		if c.pend != '\n' {
			p[n-1] = '\n' // before another byte, or the last of the file
		}
	}
	if c.pend >= 0 {
		return n, nil // the error, if any, after the byte read ahead
	}
	return n, c.err
}

// readLine reads one line, without keeping more than maxLine bytes of it: a
// longer line is consumed and reported as tooLong.
func readLine(r *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) <= maxLine {
			buf = append(buf, chunk...)
		} else {
			tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return []byte("x"), true, err // non-empty, so the caller counts the line
		}
		return buf, false, err
	}
}

// elementHeader is the top of an Element "Export chat" JSON.
type elementHeader struct {
	RoomName    string            `json:"room_name"`
	RoomCreator string            `json:"room_creator"`
	Topic       string            `json:"topic"`
	ExportDate  string            `json:"export_date"`
	ExportedBy  string            `json:"exported_by"`
	Messages    []json.RawMessage `json:"messages"`
}

// elementSource reads an Element export as a stream, one message at a
// time, once to check it whole (readElementExport) and again for each
// pass (each): decoded whole, the messages of a 400 MiB export took
// 1.5 GiB of memory (helper-91's ZIP of 1 MiB). An export with an event
// nested too deep to decode as a stream is read whole (readDeepExport),
// its messages in header.Messages (deep).
type elementSource struct {
	path   string
	header elementHeader
	size   int64
	deep   bool
	count  int // messages
}

// walkExport reads the Element export dec starts with: the header's
// strings into h, and each message of its "messages" array, as JSON, to
// fn. Keys match as encoding/json matches a struct's fields, in any case.
func walkExport(dec *json.Decoder, h *elementHeader, fn func(raw json.RawMessage) error) error {
	if t, err := dec.Token(); err != nil {
		return err
	} else if t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	fields := map[string]*string{"room_name": &h.RoomName, "room_creator": &h.RoomCreator, "topic": &h.Topic,
		"export_date": &h.ExportDate, "exported_by": &h.ExportedBy}
	messages := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		var field *string
		for k, f := range fields {
			if strings.EqualFold(key, k) {
				field = f
			}
		}
		switch {
		case strings.EqualFold(key, "messages"):
			if messages {
				return errors.New(`two "messages" arrays`)
			}
			messages = true
			if t, err := dec.Token(); err != nil {
				return err
			} else if t != json.Delim('[') {
				return errors.New(`"messages" is not an array`)
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return err
				}
				if err := fn(raw); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return err
			}
		case field != nil:
			var v *string
			if err := dec.Decode(&v); err != nil {
				return fmt.Errorf("%q: %w", key, err)
			}
			if v != nil {
				*field = *v
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if !messages {
		return errNoMessages
	}
	return nil
}

// errNoMessages: the JSON object has no "messages" array.
var errNoMessages = errors.New(`no "messages" array`)

// maxExportSize bounds an export read into memory at once.
const maxExportSize = 4 << 30

// maxDeepExportSize bounds an export read whole, as bytes and then as its
// events, when one of them nests too deep to decode it as a stream.
const maxDeepExportSize = 512 << 20

// readDeepExport decodes the export in f, read again from its start, with
// every event nested past event.MaxDepth left out (null).
func readDeepExport(f *os.File, h *elementHeader) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(f, maxDeepExportSize+1))
	if err != nil {
		return err
	}
	body, _ = leaveOutDeep(body)
	return json.Unmarshal(body, h)
}

func readElementExport(path string) (*elementSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	if st.Size() > maxExportSize {
		return nil, fmt.Errorf("import %s: export of %d bytes is larger than the %d-byte limit; convert it to NDJSON", path, st.Size(), int64(maxExportSize))
	}
	s := &elementSource{path: path, size: st.Size()}
	// Read whole once, as a stream, so that an export that ends early or
	// breaks off is refused before anything of it is stored.
	err = walkExport(json.NewDecoder(bufio.NewReaderSize(f, 1<<20)), &s.header, func(json.RawMessage) error {
		s.count++
		return nil
	})
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && strings.Contains(err.Error(), "exceeded max depth") && st.Size() <= maxDeepExportSize {
		// An event nested as deep as encoding/json allows, counted
		// from the document's top: read the whole file, each such event
		// null (leaveOutDeep), and each refused later as malformed,
		// rather than the whole export (ARCHITECTURE.md rule 7).
		s.header, s.deep = elementHeader{}, true
		err = readDeepExport(f, &s.header)
		if err == nil && s.header.Messages == nil {
			err = errNoMessages
		}
		s.count = len(s.header.Messages)
	}
	if errors.Is(err, errNoMessages) {
		return nil, fmt.Errorf("import %s: not an Element export: no \"messages\" array", path)
	}
	if err != nil {
		return nil, fmt.Errorf("import %s: not an Element export (a JSON object with room_name and messages): %w", path, err)
	}
	return s, nil
}

func (s *elementSource) each(ctx context.Context, stateOnly bool, progress func(int64, int64, int),
	fn func(int, *event.Event) error, reject func(LineError)) error {
	events, i := 0, 0
	one := func(raw json.RawMessage, at int64) error {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(at, s.size, events)
			}
		}
		i++
		// Skipping what cannot be state unparsed keeps the first pass
		// cheap, as an NDJSON file's.
		if stateOnly && !mayBeState(raw) {
			return nil
		}
		ev, err := event.Parse(raw)
		if err != nil {
			if reject != nil {
				reject(LineError{Line: i, Err: fmt.Errorf("message %d: %w", i-1, err)})
			}
			return nil
		}
		if ev.IsState() != stateOnly {
			return nil
		}
		events++
		return fn(i, ev)
	}
	if s.deep {
		for k, raw := range s.header.Messages {
			if err := one(raw, s.size*int64(k)/int64(len(s.header.Messages))); err != nil {
				return err
			}
		}
	} else {
		f, err := os.Open(s.path)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<20))
		var h elementHeader
		var stop error // one's, not the file's
		err = walkExport(dec, &h, func(raw json.RawMessage) error {
			stop = one(raw, dec.InputOffset())
			return stop
		})
		if stop != nil {
			return stop
		}
		if err == nil && i != s.count {
			err = fmt.Errorf("it held %d messages when first read, %d now", s.count, i)
		}
		if err != nil {
			return fmt.Errorf("import %s: the export changed while it was imported: %w", s.path, err)
		}
	}
	if progress != nil {
		progress(s.size, s.size, events)
	}
	return nil
}

// addIRCLines adds what changedLines found of a batch to the report.
func (r *ImportReport) addIRCLines(l ircLines) {
	r.Changed = append(r.Changed, l.changed...)
	r.OtherRoom = append(r.OtherRoom, l.otherRoom...)
	r.WithdrawnLines = append(r.WithdrawnLines, l.withdrawn...)
}

// otherRooms lists the rooms OtherRoom's lines are archived in, at most
// three, each once.
func otherRooms(les []LineError) string {
	var rooms []string
	for _, le := range les {
		var o *OtherRoomError
		if errors.As(le.Err, &o) && !slices.Contains(rooms, string(o.Room)) {
			if len(rooms) == 3 {
				return strings.Join(rooms, ", ") + ", …"
			}
			rooms = append(rooms, string(o.Room))
		}
	}
	return strings.Join(rooms, ", ")
}

// String summarizes the report for a terminal.
func (r ImportReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %d events read, %d stored, %d already archived, %d not public",
		r.File, r.Format, r.Events, r.Stored, r.Duplicates, r.NotPublic)
	if r.RedactionsApplied+r.RedactionsPending+r.RedactionsInvalid > 0 {
		fmt.Fprintf(&b, "; redactions: %d applied, %d waiting for their target, %d not permitted",
			r.RedactionsApplied, r.RedactionsPending, r.RedactionsInvalid)
	}
	fmt.Fprintf(&b, "; %d lines rejected", len(r.Rejected))
	if r.Media > 0 || len(r.MediaErrors) > 0 {
		fmt.Fprintf(&b, "; %d attachments stored, %d not", r.Media, len(r.MediaErrors))
	}
	if len(r.Changed) > 0 {
		fmt.Fprintf(&b, "; %d lines differ from the archived ones (kept the archived)", len(r.Changed))
	}
	if r.Withdrawn > 0 {
		// Counted nowhere before: a log imported again after its lines
		// were purged with the wrong room read "0 stored, 0 already
		// archived" and stored nothing (helper-116).
		fmt.Fprintf(&b, "; %d events were deleted from this archive before (their room purged, their sender erased, expired, or withheld as not public) and are not imported again", r.Withdrawn)
	}
	if len(r.OtherRoom) > 0 {
		fmt.Fprintf(&b, "; %d of those already archived are in another room, not this one (%s): an IRC line is archived in one room only", len(r.OtherRoom), otherRooms(r.OtherRoom))
	}
	if len(r.QuarantinedLines) > 0 {
		fmt.Fprintf(&b, "; %d quarantined (refused by the database)", len(r.QuarantinedLines))
	}
	return b.String()
}
