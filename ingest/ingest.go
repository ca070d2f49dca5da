package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// Ingester prepares events for the store and writes them. It keeps each
// room's state history in memory, loaded from the store on first use, so the
// per-event decisions cost no queries. It is the archive's single writer:
// methods serialize on a mutex.
type Ingester struct {
	store *store.Store
	log   *slog.Logger
	bot   id.UserID

	mu    sync.Mutex
	rooms map[id.RoomID]*roomState
	seq   int64
	// maxRooms bounds the rooms whose state is kept in memory: an archive
	// of many rooms (or a hostile flood of invites) must not grow the
	// archiver without limit. The least recently used are dropped after
	// a batch (never during one: a batch's state is not yet in the store)
	// and reload from the store when next needed.
	maxRooms int
	lastUse  map[id.RoomID]int64
	// assumed are the rooms AssumeWorldReadable named; kept apart from the
	// cache so that an evicted room keeps the operator's word.
	assumed map[id.RoomID]bool
	// bridges are the operator's IRC bridges, whose puppets are named by
	// their nick when they set no display name (SetIRCBridges).
	bridges irclog.Bridges
	// metrics, when set, counts what is stored (SetMetrics).
	metrics *Metrics
}

// SetIRCBridges names the IRC bridges (config irc.bridges) whose puppets
// are recorded under their nick when they have no display name. Call it
// before ingesting; the bridges apply to events recorded from then on.
func (in *Ingester) SetIRCBridges(b irclog.Bridges) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.bridges = slices.Clone(b)
}

// defaultMaxRooms is the default bound of the state cache: a room's state
// history is a few kilobytes to a few megabytes (its member events).
const defaultMaxRooms = 1024

// New returns an Ingester writing to st. bot is the archive bot's user ID
// (empty when only importing): events sent while it was kicked or banned
// are not recorded.
func New(st *store.Store, log *slog.Logger, bot id.UserID) *Ingester {
	return &Ingester{store: st, log: log, bot: bot, rooms: map[id.RoomID]*roomState{},
		maxRooms: defaultMaxRooms, lastUse: map[id.RoomID]int64{}, assumed: map[id.RoomID]bool{}}
}

// Result counts what one Ingest call did.
type Result struct {
	store.PutResult
	// NotPublic counts events left out because the room's history was not
	// world-readable (or the room was encrypted) when they were sent.
	NotPublic int
}

// Add accumulates another call's result.
func (r *Result) Add(o Result) {
	r.PutResult.Add(o.PutResult)
	r.NotPublic += o.NotPublic
}

// AssumeWorldReadable makes a room whose history visibility is unknown count
// as world-readable, for imports whose source omits the state event and
// whose operator vouches for it. A known visibility always wins.
func (in *Ingester) AssumeWorldReadable(ctx context.Context, room id.RoomID) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	rs, err := in.room(ctx, room)
	if err != nil {
		return err
	}
	rs.assumeWorldReadable = true
	in.assumed[room] = true
	return nil
}

// endVouches takes back AssumeWorldReadable for the rooms: an import's
// vouch covers the file it was made for.
func (in *Ingester) endVouches(rooms map[id.RoomID]bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for r := range rooms {
		delete(in.assumed, r)
		if rs, ok := in.rooms[r]; ok {
			rs.assumeWorldReadable = false
		}
	}
}

// visibilityKnown reports whether the archive holds any history
// visibility event of the room.
func (in *Ingester) visibilityKnown(ctx context.Context, room id.RoomID) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	rs, err := in.room(ctx, room)
	if err != nil {
		return false, err
	}
	return len(rs.entries[stateKey{event.TypeHistoryVisibility, ""}]) > 0, nil
}

func (in *Ingester) room(ctx context.Context, roomID id.RoomID) (*roomState, error) {
	in.seq++
	in.lastUse[roomID] = in.seq
	if rs, ok := in.rooms[roomID]; ok {
		return rs, nil
	}
	evs, err := in.store.StateEvents(ctx, roomID)
	if err != nil {
		return nil, fmt.Errorf("load state of %s: %w", roomID, err)
	}
	rs := newRoomState(in.bot)
	for i := range evs {
		in.seq++
		rs.add(&evs[i].Event, in.seq)
	}
	rs.assumeWorldReadable = in.assumed[roomID]
	if rs.arrived, err = in.store.ArrivedVisibility(ctx, roomID); err != nil {
		return nil, err
	}
	in.rooms[roomID] = rs
	return rs, nil
}

// trim drops the least recently used rooms' state when the cache is over
// its bound, down to three quarters of it, so the sort is paid once per
// many new rooms rather than once per batch.
func (in *Ingester) trim() {
	if in.maxRooms <= 0 || (len(in.rooms) <= in.maxRooms && len(in.lastUse) <= 2*in.maxRooms) {
		return // (lastUse also remembers rooms dropped after a failed write)
	}
	type use struct {
		room id.RoomID
		at   int64
	}
	uses := make([]use, 0, len(in.rooms))
	for r := range in.rooms {
		uses = append(uses, use{r, in.lastUse[r]})
	}
	sort.Slice(uses, func(i, j int) bool { return uses[i].at > uses[j].at })
	keep := min(max(in.maxRooms*3/4, 1), len(uses))
	for _, u := range uses[keep:] {
		delete(in.rooms, u.room)
	}
	last := make(map[id.RoomID]int64, keep)
	for _, u := range uses[:keep] {
		last[u.room] = u.at
	}
	in.lastUse = last
}

// Ingest writes a batch of events in one store transaction. State events
// are applied first, in timeline order, so the messages of the batch are
// judged by the state in force when they were sent. Events sent while the
// room was not public are left out, except state events, which are kept
// (never shown) because later decisions depend on them.
//
// An event the database refuses is quarantined, not stored, and the rest
// of the batch is (Result.Quarantined, ARCHITECTURE.md rule 7); an error
// means the batch was not stored and should be retried.
func (in *Ingester) Ingest(ctx context.Context, evs []*event.Event) (Result, error) {
	return in.ingest(ctx, store.SourceOther, "", evs, false, roomOrder{})
}

// IngestFrom is Ingest naming the path the events came by, for the
// quarantine's records.
func (in *Ingester) IngestFrom(ctx context.Context, src store.Source, evs []*event.Event) (Result, error) {
	return in.ingest(ctx, src, "", evs, false, roomOrder{})
}

// ingestUnshown is IngestFrom for events the archive keeps but never
// shows, whatever the room's visibility: the room an IRC import makes for
// a channel (--new-room: its creation, alias and name), which is no line
// of the log, at the time of the first line of whichever file was
// imported first.
func (in *Ingester) ingestUnshown(ctx context.Context, src store.Source, evs []*event.Event) (Result, error) {
	return in.ingest(ctx, src, "", evs, true, roomOrder{})
}

// IngestTransaction is Ingest for an appservice transaction: the
// transaction's record commits with its events.
func (in *Ingester) IngestTransaction(ctx context.Context, txnID string, evs []*event.Event) (Result, error) {
	return in.ingest(ctx, store.SourceTransaction, txnID, evs, false, roomOrder{})
}

// Kept returns the events of evs that were not quarantined: the ones to
// act on (an invite, a tombstone, a command) once the batch committed.
func (r Result) Kept(evs []*event.Event) []*event.Event {
	if len(r.Quarantined) == 0 {
		return evs
	}
	out := make([]*event.Event, 0, len(evs))
	for _, ev := range evs {
		if !slices.Contains(r.Quarantined, ev.ID) {
			out = append(out, ev)
		}
	}
	return out
}

// ingestOrdered is IngestFrom for history read back in the room's order
// (a backfill's /messages): before gives the history visibility in force
// before each event by that order, where it is known (inOrder).
func (in *Ingester) ingestOrdered(ctx context.Context, src store.Source, evs []*event.Event, before map[*event.Event]string) (Result, error) {
	return in.ingest(ctx, src, "", evs, false, roomOrder{before: before})
}

// ingestSweep is IngestFrom for a page of a forward sweep: carry holds
// each room's visibility at the page's start in the room's order, where
// an earlier page of the sweep told it, and after the page on return.
func (in *Ingester) ingestSweep(ctx context.Context, evs []*event.Event, carry map[id.RoomID]string) (Result, error) {
	return in.ingest(ctx, store.SourceSweep, "", evs, false, roomOrder{carry: carry})
}

// roomOrder is what ingest knows of the room's order beside the events'
// timestamps: before, the history visibility in force before each event
// (a backfill's); or carry, each room's visibility at the batch's start,
// updated by the batch (a sweep's pages).
type roomOrder struct {
	before map[*event.Event]string
	carry  map[id.RoomID]string
}

// ingest judges each event by the timestamps and by the room's order
// (inOrder). Events that come in the room's order, from a source
// arrivesInOrder names, are judged by the order they came in, from the
// visibility their source knows at the start (orderStart), and what an
// appservice transaction or the state read on joining brings sets the
// room's visibility in its order (store.Event.Arrived).
func (in *Ingester) ingest(ctx context.Context, src store.Source, txnID string, evs []*event.Event, unshown bool, order roomOrder) (Result, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	defer in.trim()
	var res Result
	before := order.before
	// arrivals: each history-visibility event's order in a push, from 1.
	var arrivals map[*event.Event]int
	if before == nil && arrivesInOrder(src) {
		before = make(map[*event.Event]string, len(evs))
		sets := src == store.SourceTransaction || src == store.SourceState
		if sets {
			arrivals = map[*event.Event]int{}
		}
		cur := map[id.RoomID]string{}
		for _, ev := range evs {
			v, ok := cur[ev.RoomID]
			if !ok {
				var err error
				if v, err = in.orderStart(ctx, src, ev.RoomID, order.carry); err != nil {
					return res, err
				}
			}
			before[ev] = v
			if event.IsHistoryVisibility(ev) {
				v = event.HistoryVisibility(ev.Content)
				if sets {
					arrivals[ev] = len(arrivals) + 1
				}
			}
			cur[ev.RoomID] = v
		}
		if order.carry != nil {
			maps.Copy(order.carry, cur)
		}
	}
	state := make([]*event.Event, 0)
	var other []*event.Event
	for _, ev := range evs {
		if ev.IsState() {
			state = append(state, ev)
		} else {
			other = append(other, ev)
		}
	}
	sort.SliceStable(state, func(i, j int) bool { return state[i].OriginTS < state[j].OriginTS })

	out := make([]store.Event, 0, len(evs))
	// The in-memory state is only updated once the batch commits, so that a
	// failed write leaves it consistent with the store; until then pending
	// holds this batch's state events.
	type pendingState struct {
		rs *roomState
		ev *event.Event
	}
	var pending []pendingState
	names := nameUses{batch: make(map[id.EventID]bool, len(evs))}
	for _, ev := range evs {
		names.batch[ev.ID] = true
	}
	for _, ev := range state {
		rs, err := in.room(ctx, ev.RoomID)
		if err != nil {
			return res, err
		}
		public := rs.public(ev) && inOrder(ev, before[ev]) && !unshown
		se := in.prepare(rs, ev, public)
		se.Arrived = arrivals[ev]
		out = append(out, se)
		names = names.note(len(out)-1, rs, ev, public)
		in.seq++
		rs.add(ev, in.seq)
		pending = append(pending, pendingState{rs, ev})
	}
	for _, ev := range other {
		rs, err := in.room(ctx, ev.RoomID)
		if err != nil {
			return res, err
		}
		// Redactions are always stored and applied, whatever the room's
		// visibility: erasing beats not recording.
		public := rs.public(ev) && inOrder(ev, before[ev]) && !unshown
		if !public && ev.Type != event.TypeRedaction {
			res.NotPublic++
			if arrives(src) {
				// Judged as it arrives: no later delivery may judge it
				// public by a visibility change that claims an earlier
				// time but came after it (store.Event.Withheld).
				out = append(out, store.Event{Event: *ev, Withheld: true})
			}
			continue
		}
		out = append(out, in.prepare(rs, ev, public))
		names = names.note(len(out)-1, rs, ev, public)
	}
	if err := in.stillNamed(ctx, out, names); err != nil {
		return res, err
	}
	var put store.PutResult
	var err error
	if txnID != "" {
		put, err = in.store.PutTransaction(ctx, txnID, out)
	} else {
		put, err = in.store.PutEventsFrom(ctx, src, out)
	}
	if err != nil {
		// Forget the rooms this batch touched; they reload from the store.
		for _, p := range pending {
			delete(in.rooms, p.ev.RoomID)
		}
		return res, err
	}
	// The room's visibility in its order as the store now has it: a
	// visibility event it stored may have set it (Arrived), or be a
	// later change that ends it (store.ArrivedVisibility).
	for _, ev := range evs {
		if rs, ok := in.rooms[ev.RoomID]; ok && event.IsHistoryVisibility(ev) {
			v, err := in.store.ArrivedVisibility(ctx, ev.RoomID)
			if err != nil {
				delete(in.rooms, ev.RoomID) // read again with the room
				continue
			}
			rs.arrived = v
		}
	}
	// A quarantined state event is in memory but not in the store: reload
	// its room from the store, which is what later decisions must follow.
	for _, p := range pending {
		if slices.Contains(put.Quarantined, p.ev.ID) {
			delete(in.rooms, p.ev.RoomID)
		}
	}
	if put.RedactionsApplied > 0 {
		// A redacted state event (a member event no longer names anyone):
		// reload that room's state from the store, where the redaction is
		// applied. That is a redaction of known state, or new state a
		// waiting redaction may have hit; redactions of messages, the
		// usual kind, change no state.
		for _, ev := range evs {
			rs, ok := in.rooms[ev.RoomID]
			if ok && (ev.IsState() || (ev.Type == event.TypeRedaction && rs.seen[event.RedactsTarget(ev)])) {
				delete(in.rooms, ev.RoomID)
			}
		}
	}
	res.PutResult = put
	var newest int64
	for _, e := range out {
		if !e.Withheld {
			newest = max(newest, e.OriginTS)
		}
	}
	in.metrics.storedEvents(src, put.Stored, newest)
	return res, nil
}

// nameUses are the member events that named a batch's events
// (roomState.displayName), but those of the batch itself.
type nameUses struct {
	batch map[id.EventID]bool // the batch's own events
	uses  []nameUse
}

type nameUse struct {
	i      int // in the batch's prepared events
	rs     *roomState
	ev     *event.Event
	public bool
	src    id.EventID // the member event that named it
}

func (n nameUses) note(i int, rs *roomState, ev *event.Event, public bool) nameUses {
	if e := rs.nameSource(ev.Sender, ev.OriginTS, ev.ID); e != nil && e.value != "" && !n.batch[e.eventID] {
		n.uses = append(n.uses, nameUse{i: i, rs: rs, ev: ev, public: public, src: e.eventID})
	}
	return n
}

// stillNamed makes sure the names a batch's events are given are the
// ones their member events still hold in the store. Another process may
// have changed those events since this ingester read the room's state:
// the operator's takedown of a member event whose display name was
// abusive (archiver takedown), an erasure, and the running archiver,
// which keeps a busy room's state for as long as it runs, gave the
// withdrawn name to every later message of that member (helper-99). A
// name that changed is taken as the store holds it now and the events it
// named are prepared again.
func (in *Ingester) stillNamed(ctx context.Context, out []store.Event, names nameUses) error {
	if len(names.uses) == 0 {
		return nil
	}
	by := make(map[id.EventID]nameUse, len(names.uses))
	ids := make([]id.EventID, 0, len(names.uses))
	for _, u := range names.uses {
		if _, ok := by[u.src]; !ok {
			by[u.src] = u
			ids = append(ids, u.src)
		}
	}
	stored, err := in.store.StoredEvents(ctx, ids)
	if err != nil {
		return fmt.Errorf("check display names: %w", err)
	}
	changed := map[id.EventID]bool{}
	for i := range stored {
		e := &stored[i]
		u, ok := by[e.ID]
		if ok && e.StateKey != nil && u.rs.setName(id.UserID(*e.StateKey), e.ID, event.StringField(e.Content, "displayname")) {
			changed[e.ID] = true
		}
	}
	for _, u := range names.uses {
		if changed[u.src] {
			arrived := out[u.i].Arrived
			out[u.i] = in.prepare(u.rs, u.ev, u.public)
			out[u.i].Arrived = arrived
		}
	}
	return nil
}

// arrives reports whether events from src come as they are sent, in the
// room's order (a transaction, /sync, a forward sweep), rather than as
// history read back (a backfill, an import, whose file the operator may
// import again with --assume-world-readable).
func arrives(src store.Source) bool {
	return src == store.SourceTransaction || src == store.SourceSync || src == store.SourceSweep
}

// arrivesInOrder reports whether events from src come in the room's order:
// as they are sent (arrives), or as the room's current state, read on
// joining, whose one history visibility is the room's now.
func arrivesInOrder(src store.Source) bool {
	return arrives(src) || src == store.SourceState
}

// orderStart is the room's history visibility in its order before a batch
// from src: for an appservice transaction, the room's newest, the one that
// came last (store.ArrivedVisibility); for a sweep's page, what its
// earlier pages said (carry). /sync, which brings state alone and may
// bring it before the transaction of the messages sent before it, a
// sweep's first page, which re-reads from an older position, and the
// state read on joining are judged by their own order alone.
func (in *Ingester) orderStart(ctx context.Context, src store.Source, room id.RoomID, carry map[id.RoomID]string) (string, error) {
	switch src {
	case store.SourceTransaction:
		rs, err := in.room(ctx, room)
		if err != nil {
			return "", err
		}
		return rs.arrived, nil
	case store.SourceSweep:
		return carry[room], nil
	}
	return "", nil
}

func (in *Ingester) prepare(rs *roomState, ev *event.Event, public bool) store.Event {
	se := store.Event{Event: *ev, Public: public}
	se.SenderName = rs.displayName(ev.Sender, ev.OriginTS, ev.ID)
	if ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(ev.Sender) {
		// A member event names its sender by the name it sets.
		if n := event.StringField(ev.Content, "displayname"); n != "" {
			se.SenderName = n
		}
	}
	if n := ircNick(ev); n != "" {
		se.SenderName = n // an IRC line is named by the nick it was written by
	}
	if se.SenderName == "" {
		// A bridged IRC user without a display name: by the nick, as its
		// imported IRC years name it, rather than by its user ID.
		se.SenderName, _ = in.bridges.Nick(ev.Sender)
	}
	se.Rel = event.ParseRelation(ev.Content)
	if ev.StateKey != nil {
		// A state event is no relation (migration 024): kept, a member
		// event saying it replaced a message was left out of the day as
		// an edit, hiding a rename or a ban. Its reply is kept, as the
		// store keeps it.
		se.Rel = event.Relation{ReplyTo: se.Rel.ReplyTo}
	}
	return se
}
