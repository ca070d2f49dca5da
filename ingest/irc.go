package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// IRC log imports: the format is irc:<reader> (irc:limnoria, irc:plain…),
// detected from the file's first lines; irclog turns each line into an
// event and this file feeds them to ImportFile's two passes.

// formatIRCPrefix starts the Format of an IRC log.
const formatIRCPrefix = "irc:"

// IRCFormat is the import Format of an IRC log in the given reader's format.
func IRCFormat(f irclog.Format) Format { return Format(formatIRCPrefix + string(f)) }

// IsIRC reports whether f is an IRC log format.
func (f Format) IsIRC() bool { return strings.HasPrefix(string(f), formatIRCPrefix) }

// IRCOptions say where an IRC log's lines go (irclog.Options), and, for a
// channel that never moved to Matrix, the alias of the room made for it.
type IRCOptions struct {
	irclog.Options
	// NewRoomAlias, if set, makes Room an archive room of its own for the
	// channel (created, named and aliased by the import).
	NewRoomAlias string
	// Successor, if set, is the Matrix room the channel moved to: the
	// importing command links the two (LinkSuccessor) after the files.
	Successor id.RoomID
}

// ErrUnknownFormat is a file that is no import format the archive reads.
var ErrUnknownFormat = errors.New("not a file the archive can import")

// ErrIRCChanged is a line whose position in the channel's history the
// archive already holds with different content: kept as archived.
var ErrIRCChanged = errors.New("the archive holds a different line at this position (a re-export that changed it?); kept the archived one")

// ErrIRCMoved is a line the archive already holds at another time: an
// import of the same log with another --tz (a line's ID comes from its
// day and time as written, not its instant). Kept as archived.
var ErrIRCMoved = errors.New("the archive holds this line at another time (imported before with another --tz?); kept the archived one")

// ErrIRCOtherRoom is a line the archive holds in another room: the log
// was imported into that room before. A line's ID comes from its network,
// channel, day, time and position, not its room, so a line is archived in
// one room only. Kept there.
var ErrIRCOtherRoom = errors.New("the archive holds this line in another room (the log was imported into it before); kept there, not copied here")

// OtherRoomError is a line the archive holds in another room
// (ErrIRCOtherRoom), and that room.
type OtherRoomError struct {
	Event id.EventID
	Room  id.RoomID
}

func (e *OtherRoomError) Error() string {
	return fmt.Sprintf("event %s: %v: %s", e.Event, ErrIRCOtherRoom, e.Room)
}

func (e *OtherRoomError) Unwrap() error { return ErrIRCOtherRoom }

// ErrIRCWithdrawn is a line the archive deleted on purpose before (its
// room purged, its sender erased, expired, or withheld as not public):
// its ID's tombstone keeps it from coming back, in any room.
var ErrIRCWithdrawn = errors.New("the archive deleted this line before (its room purged, its sender erased, expired, or withheld as not public) and does not import it again")

// sniffBytes is how much of a file format detection reads.
const sniffBytes = 64 << 10

// sniff reads the start of a file and decides between the JSON formats,
// the IRC formats, and refusal (ZIP archives, binary files, text in no
// known form).
func sniff(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	head := make([]byte, sniffBytes)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("import %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case len(bytes.TrimSpace(head)) == 0:
		return "", fmt.Errorf("import %s: %w: the file is empty", path, ErrUnknownFormat)
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "", fmt.Errorf("import %s: %w: it is a ZIP archive (an Element export as HTML or a ZIP? export as JSON, or unzip it and import the JSON inside)", path, ErrUnknownFormat)
	case bytes.IndexByte(head, 0) >= 0, bytes.HasPrefix(head, []byte("\x1f\x8b")):
		return "", fmt.Errorf("import %s: %w: it is a binary file, not text (compressed? decompress it first)", path, ErrUnknownFormat)
	}
	// Any JSON object line among the first ones: the JSON formats, whose
	// own readers report the bad lines.
	// Lines end in LF, CR LF, or CR alone (loneCRs).
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(string(head), "\r\n", "\n"), "\r", "\n"), "\n")
	if n == sniffBytes && len(lines) > 1 {
		lines = lines[:len(lines)-1] // cut mid-line
	}
	for i, l := range lines {
		if i == 50 {
			break
		}
		if strings.HasPrefix(strings.TrimSpace(l), "{") {
			return detectFormat(path)
		}
	}
	decoded := make([]string, len(lines))
	for i, l := range lines {
		decoded[i] = irclog.Decode([]byte(l))
	}
	irc, err := irclog.Detect(decoded)
	if err != nil {
		return "", fmt.Errorf("import %s: %w: tried ndjson and element (no line is a JSON object), and it is %w", path, ErrUnknownFormat, err)
	}
	return IRCFormat(irc), nil
}

type ircSource struct {
	path   string
	format irclog.Format
	opts   IRCOptions
}

func newIRCSource(path string, format Format, opts *IRCOptions) (*ircSource, error) {
	if opts == nil {
		return nil, fmt.Errorf("import %s: an IRC log (%s): name its --network, --channel, and --room or --new-room", path, strings.TrimPrefix(string(format), formatIRCPrefix))
	}
	f := irclog.Format(strings.TrimPrefix(string(format), formatIRCPrefix))
	if _, err := irclog.NewConverter(f, path, opts.Options); err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	return &ircSource{path: path, format: f, opts: *opts}, nil
}

func (s *ircSource) each(ctx context.Context, stateOnly bool, progress func(int64, int64, int),
	fn func(int, *event.Event) error, reject func(LineError)) error {
	conv, err := irclog.NewConverter(s.format, s.path, s.opts.Options)
	if err != nil {
		return fmt.Errorf("import %s: %w", s.path, err)
	}
	firstTS := int64(-1)
	lineFn := func(line int, b []byte, tooLong bool) (bool, error) {
		if tooLong {
			if reject != nil {
				reject(LineError{Line: line, Err: fmt.Errorf("line longer than %d bytes", maxLine)})
			}
			return false, nil
		}
		out, err := conv.Line(line, b)
		if err != nil {
			if reject != nil {
				reject(LineError{Line: line, Err: fmt.Errorf("%w: %q", err, truncate(irclog.Decode(b), 80))})
			}
			return false, nil
		}
		if out == nil {
			return false, nil
		}
		if firstTS < 0 || out.TS < firstTS {
			firstTS = out.TS
		}
		if out.State != stateOnly {
			return false, nil // the other pass's
		}
		ev, err := event.Parse(out.JSON)
		if err != nil {
			if reject != nil {
				reject(LineError{Line: line, Err: err})
			}
			return false, nil
		}
		return true, fn(line, ev)
	}
	// A room made for the channel is created just before its first line
	// (IDs derived from the room: a later file adds nothing).
	roomFn := func() (int, error) {
		if !stateOnly || s.opts.NewRoomAlias == "" || firstTS < 0 {
			return 0, nil
		}
		raws, err := irclog.RoomEvents(s.opts.Options, s.opts.NewRoomAlias, firstTS)
		if err != nil {
			return 0, fmt.Errorf("import %s: %w", s.path, err)
		}
		for i, raw := range raws {
			ev, err := event.Parse(raw)
			if err != nil {
				return i, fmt.Errorf("import %s: room events: %w", s.path, err)
			}
			if err := fn(0, ev); err != nil {
				return i, err
			}
		}
		return len(raws), nil
	}
	return eachLine(ctx, s.path, true, progress, lineFn, roomFn)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xc0 != 0x80 }

// ircProvenance reads the provenance an imported IRC line carries.
func ircProvenance(content json.RawMessage) (irclog.Provenance, bool) {
	if !bytes.Contains(content, []byte(irclog.ProvenanceKey)) {
		return irclog.Provenance{}, false
	}
	var c map[string]json.RawMessage
	if json.Unmarshal(content, &c) != nil || c[irclog.ProvenanceKey] == nil {
		return irclog.Provenance{}, false
	}
	var p irclog.Provenance
	if json.Unmarshal(c[irclog.ProvenanceKey], &p) != nil {
		return irclog.Provenance{}, false
	}
	return p, true
}

// ircNick is the nick an imported IRC line was written by, which names
// its sender on that line whatever the member state says.
func ircNick(ev *event.Event) string {
	if !strings.HasPrefix(string(ev.ID), "$irc-") {
		return ""
	}
	p, _ := ircProvenance(ev.Content)
	return p.Nick
}

// ircLines is what changedLines found of a batch's lines that the write
// did not store: changed, archived in another room, or deleted before.
type ircLines struct {
	changed, otherRoom, withdrawn []LineError
}

// changedLines finds, among a batch's events the store already held
// (r.Duplicates), those whose archived line differs from the file's: a
// re-export that changed history (what placeLines left to be written at
// a position the archive holds otherwise). The archived one stays; the
// line is reported. Lines whose archived content is gone (redacted, opted
// out) cannot be compared and are not reported. It names too the lines
// archived in another room (a line's ID does not depend on the room, so
// the same log imported into a second room finds its lines in the
// first), and those the store left out as deleted on purpose before
// (r.Withdrawn: a tombstone, as a purge of the room the log was first
// imported into by mistake leaves for every line): both were counted as
// nothing, or as "already archived", and the operator was not told where
// the lines were (helper-116).
func (in *Ingester) changedLines(ctx context.Context, r Result, evs []*event.Event, lines []int) (ircLines, error) {
	var out ircLines
	if r.Withdrawn > 0 {
		w, err := in.withdrawnLines(ctx, r, evs, lines)
		if err != nil {
			return out, err
		}
		out.withdrawn = w
	}
	if r.Duplicates == 0 {
		return out, nil
	}
	ids := make([]id.EventID, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	stored, err := in.store.EventsByID(ctx, ids)
	if err != nil {
		return out, fmt.Errorf("compare with archived lines: %w", err)
	}
	old := make(map[id.EventID]irclog.Provenance, len(stored))
	at := make(map[id.EventID]int64, len(stored))
	room := make(map[id.EventID]id.RoomID, len(stored))
	for _, se := range stored {
		room[se.ID] = se.RoomID
		if p, ok := ircProvenance(se.Content); ok {
			old[se.ID], at[se.ID] = p, se.OriginTS
		}
	}
	for i, ev := range evs {
		if rm, ok := room[ev.ID]; ok && rm != ev.RoomID {
			out.otherRoom = append(out.otherRoom, LineError{Line: lines[i], Err: &OtherRoomError{Event: ev.ID, Room: rm}})
			continue
		}
		o, ok := old[ev.ID]
		if !ok {
			continue
		}
		p := provenanceOf(ev)
		switch {
		case o.Hash != "" && p.Hash != o.Hash:
			out.changed = append(out.changed, LineError{Line: lines[i], Err: fmt.Errorf("event %s: %w (archived from %s line %d)", ev.ID, ErrIRCChanged, o.Source, o.Line)})
		case at[ev.ID] != ev.OriginTS && lines[i] > 0:
			// (Line 0: the events of a room made for the channel, at
			// the time of the first line of the first file with it.)
			// Silently "already archived" before: the operator who
			// imported a log again with the --tz it needed was told
			// nothing of the lines staying at their old times.
			out.changed = append(out.changed, LineError{Line: lines[i], Err: fmt.Errorf("event %s: %w (archived at %s from %s line %d, read now at %s)", ev.ID, ErrIRCMoved,
				time.UnixMilli(at[ev.ID]).UTC().Format(time.RFC3339), o.Source, o.Line, time.UnixMilli(ev.OriginTS).UTC().Format(time.RFC3339))})
		}
	}
	return out, nil
}

// withdrawnLines names the lines of a batch the store left out as deleted
// on purpose before (r.Withdrawn): those it holds no row of, but for the
// ones it quarantined. A message withheld as not public in this very
// batch holds no row either; when the batch had such, the two cannot be
// told apart and only the count (r.Withdrawn) is reported.
func (in *Ingester) withdrawnLines(ctx context.Context, r Result, evs []*event.Event, lines []int) ([]LineError, error) {
	ids := make([]id.EventID, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	stored, err := in.store.StoredEvents(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("find the lines deleted before: %w", err)
	}
	have := make(map[id.EventID]bool, len(stored)+len(r.Quarantined))
	for _, se := range stored {
		have[se.ID] = true
	}
	for _, q := range r.Quarantined {
		have[q] = true
	}
	var out []LineError
	for i, ev := range evs {
		if !have[ev.ID] {
			out = append(out, LineError{Line: lines[i], Err: fmt.Errorf("event %s: %w", ev.ID, ErrIRCWithdrawn)})
		}
	}
	if len(out) != r.Withdrawn {
		return nil, nil
	}
	return out, nil
}

// placeLines decides, before an IRC log's batch is written, what each of
// its lines is to the archive's lines of the same time. A line's ID is
// its position among the lines of its written time in its own file, so
// two logs of the channel that begin or end within one minute (two
// people's irssi logs, minutes only; a client restarted into a new file;
// a fuller copy of a day's log) give one position to different lines,
// and the same line different positions. A line is
//   - the archive's line at its position, if that says the same: written
//     as it is (the write finds it archived);
//   - archived already, if it was stored beside its position by an
//     import of this file before, or if an archived line said the same
//     within a minute of it and no line before it in the batch was that
//     one: left out (counted in dups);
//   - the archived line at its position changed (a re-export that changed
//     it), if the same nick said much the same there (sameLine) and that
//     archived line is no other line of the batch (matched to one before
//     it, or said by one near it): written as it is, and reported after
//     the write (changedLines);
//   - else a line of its own: under its ID if that is free, or, where its
//     position holds another line, under an ID from that ID and what it
//     said (besideID), after the line before it in its file or else
//     after the archive's lines of its minute.
//
// What a line is, is decided by what the lines say, never by the name of
// the file they came from: two logs of one name (irssi's #channel.log of
// two people, ZNC's YYYY-MM-DD.log, a fuller copy of a day's file) were
// taken for one file, whose line at a position said otherwise only if
// changed, and the second log's lines past the first's in that minute
// were dropped as "changed" and its lines at free positions stored again
// (helper-116). Dropping the lines whose position held another, as
// "changed", lost every line a second log had past the first's within
// that minute, and writing those whose position was free stored the
// first log's lines again where the second had more (helper-101,
// helper-112).
func (in *Ingester) placeLines(ctx context.Context, evs []*event.Event, lines []int) (out []*event.Event, outLines []int, dups int, err error) {
	if len(evs) == 0 {
		return evs, lines, 0, nil
	}
	// Only where a line's position holds another line can the logs
	// overlap (two files with lines of one written time both have its
	// first position): else, as a first import or the same lines again
	// (a log that grew since), the batch is written as it is, at the
	// cost of one probe of its IDs.
	ids := make([]id.EventID, len(evs))
	hashOf := make(map[id.EventID]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
		hashOf[ev.ID] = provenanceOf(ev).Hash
	}
	held, err := in.store.EventsByID(ctx, ids)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read the archived lines at the file's: %w", err)
	}
	if !slices.ContainsFunc(held, func(se store.Event) bool {
		p, ok := ircProvenance(se.Content)
		return ok && p.Hash != "" && p.Hash != hashOf[se.ID]
	}) {
		return evs, lines, 0, nil
	}
	near, err := in.linesNear(ctx, evs)
	if err != nil {
		return nil, nil, 0, err
	}
	byID := make(map[id.EventID]*nearLine, len(near)+len(held))
	byHash := map[string][]*nearLine{}
	lastOf := map[int64]int64{} // the last archived line of each minute
	for i := range near {
		n := &near[i]
		byID[n.ev.ID] = n
		byHash[n.hash] = append(byHash[n.hash], n)
		m := n.ev.OriginTS - n.ev.OriginTS%60_000
		lastOf[m] = max(lastOf[m], n.ev.OriginTS)
	}
	// A line's ID does not depend on the room, so a position may be held
	// in another room (a log of the channel imported there): by the same
	// line, it is archived there and reported so (changedLines); by a
	// different one, the line is stored beside it, here. linesNear reads
	// this room only, and a line whose position another room held with a
	// different line was written under its own ID, dropped as a duplicate
	// and reported as archived in that room, stored nowhere (helper-126).
	// Those lines hold positions only: no line of the batch is matched to
	// them by what they said, nor placed after them in their minute.
	for _, se := range held {
		if _, ok := byID[se.ID]; ok || se.RoomID == evs[0].RoomID {
			continue
		}
		if p, ok := ircProvenance(se.Content); ok {
			byID[se.ID] = &nearLine{ev: se, hash: p.Hash, taken: true}
		}
	}
	// The archived lines that are a line of the batch by their ID (at its
	// position, saying the same; or stored beside it before) are that
	// line's alone: no other line of the batch is matched to them.
	// saidAt holds the times of the batch's lines by what they said, in
	// time order, for telling a shift from a change.
	saidAt := map[string][]int64{}
	for _, ev := range evs {
		p := provenanceOf(ev)
		if p.Hash == "" {
			continue
		}
		saidAt[p.Hash] = append(saidAt[p.Hash], ev.OriginTS)
		if n := byID[ev.ID]; n != nil && (n.hash == p.Hash || n.hash == "") {
			n.taken = true
		} else if n := byID[besideID(ev.ID, p.Hash)]; n != nil {
			n.taken = true
		}
	}
	for _, ts := range saidAt {
		slices.Sort(ts)
	}
	// saidNear reports whether a line of the batch said hash within
	// ircNear of ts: the archived line of that text at a position is then
	// that line, shifted, not one the line at its position changed.
	saidNear := func(hash string, ts int64) bool {
		at := saidAt[hash]
		k, _ := slices.BinarySearch(at, ts-ircNear)
		return k < len(at) && at[k] <= ts+ircNear
	}
	// For each text, the first of its archived lines not taken nor too
	// old for the lines still to come: each is passed over once, however
	// many lines of a hostile log say the same.
	next := map[string]int{}
	match := func(hash string, ts int64) *nearLine {
		ns, k := byHash[hash], next[hash]
		for k < len(ns) && (ns[k].taken || ns[k].ev.OriginTS < ts-ircNear) {
			k++
		}
		next[hash] = k
		if k < len(ns) && ns[k].ev.OriginTS <= ts+ircNear {
			ns[k].taken = true
			return ns[k]
		}
		return nil
	}
	// matches reports whether an archived line said hash near ts, and
	// sets at to its time.
	matches := func(hash string, ts int64, at *int64) bool {
		if m := match(hash, ts); m != nil {
			*at = m.ev.OriginTS
			return true
		}
		return false
	}
	var placed int64 = -1 // where the batch's last line written or matched is
	for i, ev := range evs {
		p := provenanceOf(ev)
		held := byID[ev.ID]
		switch {
		case held != nil && (held.hash == p.Hash || held.hash == ""):
			placed = held.ev.OriginTS
		case p.Hash == "":
			// Not a line (the room's events): as it is.
			placed = ev.OriginTS
		case held != nil && byID[besideID(ev.ID, p.Hash)] != nil:
			// Stored beside it by an import of this file before.
			placed = byID[besideID(ev.ID, p.Hash)].ev.OriginTS
			dups++
			continue
		case matches(p.Hash, ev.OriginTS, &placed):
			dups++
			continue
		case held != nil && !held.taken && !saidNear(held.hash, held.ev.OriginTS) && sameLine(&held.ev, ev):
			// (Never another room's line: those are taken, above.)
			placed = held.ev.OriginTS
		case held != nil:
			minute := ev.OriginTS - ev.OriginTS%60_000
			base := int64(-1)
			if placed >= minute && placed < minute+60_000 {
				base = placed
			} else if t, ok := lastOf[minute]; ok {
				base = t
			}
			ts := ev.OriginTS
			if base >= 0 {
				ts = min(base+1, minute+59_999)
			}
			b, err := besideEvent(ev, p.Hash, ts)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("line %d: %w", lines[i], err)
			}
			ev, placed = b, ts
		default:
			placed = ev.OriginTS
		}
		out, outLines = append(out, ev), append(outLines, lines[i])
	}
	return out, outLines, dups, nil
}

// ircNear is how far apart (ms) two logs may put the same line: a written
// minute spans 60 s, and lines of one written time are 1 ms apart.
const ircNear = 61_000

// nearLine is an archived IRC line near a batch's lines (linesNear).
type nearLine struct {
	ev    store.Event
	hash  string
	taken bool // placeLines has found it a line of the batch
}

// linesNear reads the archived IRC lines within ircNear of evs's times,
// in time order. The times are read in spans that merge where they
// overlap (a batch's lines, in file order, are nearly always one span),
// each a page at a time: linear in what the archive holds there.
func (in *Ingester) linesNear(ctx context.Context, evs []*event.Event) ([]nearLine, error) {
	ts := make([]int64, len(evs))
	for k, ev := range evs {
		ts[k] = ev.OriginTS
	}
	slices.Sort(ts)
	room := evs[0].RoomID
	var out []nearLine
	read := func(from, to int64) error {
		var after store.Position
		for {
			page, more, err := in.store.DayPage(ctx, room, from, to, after, store.MaxDayEvents, 16<<20)
			if err != nil {
				return fmt.Errorf("read the archived lines near the file's: %w", err)
			}
			for _, se := range page {
				if p, ok := ircProvenance(se.Content); ok {
					out = append(out, nearLine{ev: se, hash: p.Hash})
				}
			}
			if !more || len(page) == 0 {
				return nil
			}
			last := page[len(page)-1]
			after = store.Position{TS: last.OriginTS, NID: last.NID}
		}
	}
	from, to := ts[0]-ircNear, ts[0]+ircNear+1
	for _, t := range ts[1:] {
		if t-ircNear > to {
			if err := read(from, to); err != nil {
				return nil, err
			}
			from = t - ircNear
		}
		to = t + ircNear + 1
	}
	return out, read(from, to)
}

func provenanceOf(ev *event.Event) irclog.Provenance {
	p, _ := ircProvenance(ev.Content)
	return p
}

// sameLine reports whether the file's line ev is the archived line a
// changed: the same kind of event by the same nick, saying much the same
// (at least half the words of the shorter text in the other; a join or a
// quit without a reason says nothing, and so the same). A re-export that
// changed a line's spelling or formatting is that; another nick's line,
// or one saying something else, is a line of its own.
func sameLine(a *store.Event, ev *event.Event) bool {
	if a == nil || a.Type != ev.Type {
		return false
	}
	pa, pb := provenanceOf(&a.Event), provenanceOf(ev)
	if !strings.EqualFold(pa.Nick, pb.Nick) || pa.NewNick != pb.NewNick {
		return false
	}
	wa, wb := lineWords(a.Content), lineWords(ev.Content)
	if len(wa) > len(wb) {
		wa, wb = wb, wa
	}
	if len(wa) == 0 {
		return len(wb) == 0
	}
	in := map[string]bool{}
	for _, w := range wb {
		in[w] = true
	}
	shared := 0
	for _, w := range wa {
		if in[w] {
			shared++
		}
	}
	return 2*shared >= len(wa)
}

// lineWords are the words (letters and digits, lower-cased) of what an
// imported line said: its body, topic or reason.
func lineWords(content json.RawMessage) []string {
	var c struct {
		Body   string `json:"body"`
		Topic  string `json:"topic"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(content, &c)
	return strings.FieldsFunc(strings.ToLower(c.Body+" "+c.Topic+" "+c.Reason), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// besideID is the ID of a line stored beside the different line its
// position's ID holds (changedLines): from that ID and what the line
// said, so the same file imported again finds it.
func besideID(pos id.EventID, hash string) id.EventID {
	h := sha256.Sum256([]byte(string(pos) + "\x1f" + hash))
	return id.EventID("$irc-" + base64.RawURLEncoding.EncodeToString(h[:24]))
}

// besideEvent is ev under its besideID, at ts.
func besideEvent(ev *event.Event, hash string, ts int64) (*event.Event, error) {
	var w map[string]json.RawMessage
	if err := json.Unmarshal(ev.Raw, &w); err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	w["event_id"], _ = json.Marshal(string(besideID(ev.ID, hash)))
	w["origin_server_ts"], _ = json.Marshal(ts)
	raw, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	return event.Parse(raw)
}

// IRCSenders returns the user IDs an IRC nick was imported as into a
// room: one per network (and server) whose logs went into it, as the
// room's imported state events (joins, topics, the room's creation)
// record them. Opting a nick out needs no network name from the operator.
func IRCSenders(ctx context.Context, st *store.Store, room id.RoomID, nick string) ([]id.UserID, error) {
	evs, err := st.StateEvents(ctx, room)
	if err != nil {
		return nil, err
	}
	seen := map[id.UserID]bool{}
	var out []id.UserID
	add := func(u id.UserID) {
		if c, ok := irclog.SameNetworkSender(u, nick); ok && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, ev := range evs {
		if !strings.HasPrefix(string(ev.ID), "$irc-") {
			continue
		}
		add(ev.Sender)
		if ev.StateKey != nil && strings.HasPrefix(*ev.StateKey, "@") {
			add(id.UserID(*ev.StateKey))
		}
	}
	slices.Sort(out)
	return out, nil
}

// LinkSuccessor marks a channel's room (made by an IRC import) as
// continued in a Matrix room, like a room upgrade: a tombstone just after
// its last archived message. Linking again changes nothing.
func (in *Ingester) LinkSuccessor(ctx context.Context, opts irclog.Options, successor id.RoomID) error {
	if !strings.HasPrefix(string(successor), "!") {
		return fmt.Errorf("successor %q is not a room ID", successor)
	}
	r, err := in.store.Room(ctx, opts.Room)
	if err != nil {
		return fmt.Errorf("link %s to its successor: %w", opts.Room, err)
	}
	if !strings.HasPrefix(string(r.CreateEventID), "$irc-") {
		return fmt.Errorf("link %s to its successor: only a room made by an IRC import (--new-room) can be linked", opts.Room)
	}
	raw, err := irclog.TombstoneEvent(opts, successor, max(r.LastTS, r.FirstTS)+1)
	if err != nil {
		return err
	}
	ev, err := event.Parse(raw)
	if err != nil {
		return fmt.Errorf("link %s to its successor: %w", opts.Room, err)
	}
	if err := in.AssumeWorldReadable(ctx, opts.Room); err != nil {
		return err
	}
	if _, err := in.IngestFrom(ctx, store.SourceImport, []*event.Event{ev}); err != nil {
		return fmt.Errorf("link %s to its successor: %w", opts.Room, err)
	}
	return nil
}
