package web

import (
	"context"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// Loading a page's data: every query a timeline needs, in batches, before
// any view is built (build.go).

// overlap runs f on a goroutine of its own when the store's reads may
// overlap (PostgreSQL: each is a round trip, and the database works on
// it while this process works on the others), and returns what waits for
// its answer; elsewhere f runs when its answer is asked for, as if
// called there. A panic in f is its error, not the process's end.
func overlap[T any](s *Server, f func() (T, error)) func() (T, error) {
	if !s.overlapReads {
		return f
	}
	var v T
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		v, err = f()
	}()
	return func() (T, error) {
		<-done
		return v, err
	}
}

// relatedByTarget groups related events by the message they relate to.
func relatedByTarget(rel []store.Event) map[id.EventID][]store.Event {
	out := map[id.EventID][]store.Event{}
	for _, r := range rel {
		out[r.Rel.EventID] = append(out[r.Rel.EventID], r)
	}
	return out
}

// resolve is event.Resolve over the store's events; the result's indices
// are into rel.
func resolve(e *store.Event, rel []store.Event) event.Resolved {
	related := make([]event.Related, len(rel))
	for i := range rel {
		related[i] = event.Related{Event: &rel[i].Event, Rel: rel[i].Rel}
	}
	return event.Resolve(event.Related{Event: &e.Event, Rel: e.Rel}, related)
}

// shownMessages resolves the displayed form of every message among evs.
func (s *Server) shownMessages(ctx context.Context, evs []store.Event) (map[id.EventID]*shown, error) {
	var ids []id.EventID
	for _, e := range evs {
		if e.Displayable() {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return map[id.EventID]*shown{}, nil
	}
	rel, err := s.store.Related(ctx, ids)
	if err != nil {
		return nil, err
	}
	return s.shownWith(ctx, evs, len(ids), rel, "")
}

// shownTexts is shownMessages for views that show the messages' text
// and not their reactions, thread summaries or poll results (search
// results, feeds, a reply's quote, a meeting's minutes): it reads, of
// their relations, the edit each shows (store.LatestEdits), within
// DayPageBytes of edits' JSON as a day page's events are. A message
// not settled within it (a list of many messages each edited into tens
// of kilobytes) says so instead of its text (editsNotRead): its own page
// reads it alone. Reading every relation of each, a feed of 50 messages
// with 500 reactions as large as a homeserver lets through read 50 ×
// 2 MiB of them to show none, and a feed of 60 messages edited 40 times
// into 60,000 bytes 120 MB of edits to show the latest of each.
func (s *Server) shownTexts(ctx context.Context, evs []store.Event) (map[id.EventID]*shown, error) {
	var targets []store.Event
	n := 0
	for _, e := range evs {
		if !e.Displayable() {
			continue
		}
		n++
		if !e.Redacted && !e.OptedOut { // shown without their text
			targets = append(targets, e)
		}
	}
	if n == 0 {
		return map[id.EventID]*shown{}, nil
	}
	edits, short, err := s.store.LatestEdits(ctx, targets, s.opts.DayPageBytes)
	if err != nil {
		return nil, err
	}
	rel := make([]store.Event, 0, len(edits))
	for _, e := range edits {
		rel = append(rel, e)
	}
	msgs, err := s.shownWith(ctx, evs, n, rel, "")
	if err != nil {
		return nil, err
	}
	for _, m := range short {
		if sh := msgs[m]; sh != nil && sh.redaction == nil {
			sh.msg, sh.edited, sh.editedAt, sh.editUnread = editsNotRead, true, 0, true
		}
	}
	return msgs, nil
}

// editsNotRead is the text of a message whose edits a list could not
// read within its bound (shownTexts).
var editsNotRead = event.Message{MsgType: event.MsgNotice, Body: "(This message was edited: open it to read its latest version.)"}

// shownDay is shownMessages for a run of consecutive events of room as
// a day's page, text log or JSON day lists them (store.DayPage, in
// timeline order): their relations are read by the run's first and last
// positions rather than by several hundred IDs, and no more than
// maxBytes of them (store.RelatedInUpTo), as the run itself was read.
// Where they reach it the run is cut before the event whose relations
// were being read: only evs[:kept] are shown, and the caller goes on
// after them as after a run cut by its own bound. Where that event is
// the run's first, the run is that event alone, with the relations read
// (capped: its latest edits, then references, thread replies and
// reactions, within the bound).
func (s *Server) shownDay(ctx context.Context, roomID id.RoomID, evs []store.Event, maxBytes int) (msgs map[id.EventID]*shown, kept int, err error) {
	n := 0
	for _, e := range evs {
		if e.Displayable() {
			n++
		}
	}
	if n == 0 {
		return map[id.EventID]*shown{}, len(evs), nil
	}
	rel, partial, cut, err := s.store.RelatedInUpTo(ctx, roomID, store.PositionOf(evs[0]), store.PositionOf(evs[len(evs)-1]), maxBytes, false)
	if err != nil {
		return nil, 0, err
	}
	var capped id.EventID
	if kept = len(evs); cut {
		kept = 0
		for kept < len(evs) && store.PositionOf(evs[kept]).Before(partial) {
			kept++
		}
		if kept == 0 {
			kept, capped = 1, evs[0].ID
		}
		n = 0
		for _, e := range evs[:kept] {
			if e.Displayable() {
				n++
			}
		}
	}
	msgs, err = s.shownWith(ctx, evs[:kept], n, rel, capped)
	return msgs, kept, err
}

// shownWith resolves the displayed form of the n messages among evs from
// their relations rel; those of capped may be incomplete (shownDay).
func (s *Server) shownWith(ctx context.Context, evs []store.Event, n int, rel []store.Event, capped id.EventID) (map[id.EventID]*shown, error) {
	out := make(map[id.EventID]*shown, n)
	byTarget := relatedByTarget(rel)
	var redacted []id.EventID
	for i := range evs {
		if e := &evs[i]; e.Displayable() && e.Redacted && !e.OptedOut {
			redacted = append(redacted, e.ID)
		}
	}
	redactions, err := s.store.RedactionsOf(ctx, redacted)
	if err != nil {
		return nil, err
	}
	// One allocation for all of them: a shown is some 500 bytes, and a
	// day's thousand allocated one by one were 1.6% of the CPU of its
	// first request in a profile.
	all := make([]shown, 0, n)
	for i := range evs {
		e := &evs[i]
		if !e.Displayable() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("messages shown: %w", err)
		}
		if len(all) == cap(all) { // more than n: the callers count them, but a slab is not worth a panic
			all = make([]shown, 0, max(n, 1))
		}
		all = all[:len(all)+1]
		sh := &all[len(all)-1]
		shownOne(sh, e, byTarget[e.ID], redactions, e.ID == capped)
		out[e.ID] = sh
	}
	return out, nil
}

// dayData is one day's events as its HTML page, text log and JSON read
// them.
type dayData struct {
	evs  []store.Event
	more bool // the day goes on after evs
	// msgs are the messages of evs as shown (shownDay, which may have
	// cut evs short).
	msgs map[id.EventID]*shown
	// prev and next are the times of the nearest messages on earlier and
	// later days (0 for none).
	prev, next int64
}

// loadDay reads the events of r's UTC day [from, to) after pos: one page
// of size events, or of maxBytes of their JSON (store.DayPage), and of
// maxBytes of their relations (shownDay), with the nearest days that
// have messages.
func (s *Server) loadDay(ctx context.Context, r store.Room, from, to int64, pos store.Position, size, maxBytes int) (dayData, error) {
	var d dayData
	adjacent := overlap(s, func() (a dayData, err error) { // prev and next
		a.prev, a.next, err = s.store.AdjacentMessages(ctx, r.ID, from, to)
		return a, err
	})
	var err error
	d.evs, d.more, err = s.store.DayPage(ctx, r.ID, from, to, pos, size, maxBytes)
	if err != nil {
		return d, err
	}
	kept := 0
	if d.msgs, kept, err = s.shownDay(ctx, r.ID, d.evs, maxBytes); err != nil {
		return d, err
	}
	if kept < len(d.evs) {
		d.evs, d.more = d.evs[:kept], true
	}
	a, err := adjacent()
	d.prev, d.next = a.prev, a.next
	return d, err
}

// timelineData is what building a page's items needs, all loaded in
// batches before any view is built: no query runs per event.
type timelineData struct {
	msgs    map[id.EventID]*shown
	parents map[id.EventID]*shown // the messages replied to
	// lostRoots are the thread roots of the page's replies that have no
	// thread page (replyParents).
	lostRoots map[id.EventID]bool
	polls     map[id.EventID]*pollView
	via       []string
	// prevMember is the content of the member event each of the page's
	// member events replaced (store.PreviousMembership).
	prevMember map[id.EventID]json.RawMessage
	// successors are the shown rooms the page's tombstones name that name
	// the room back as their predecessor (namesAsPredecessor); looked
	// is each room looked up for them, with its roomFact.
	successors map[id.RoomID]store.Room
	looked     map[id.RoomID]string
}

// loadTimeline loads what the items of evs need; run, when not nil, is
// the day's read that evs are (loadDay), with their messages.
//
// On SQLite its reads run one after another on purpose. With
// PreviousMembership (and loadDay's AdjacentMessages) on goroutines of
// their own, first requests on the 1M SQLite replay took 12-20% more CPU,
// the text log's too, whose reads did not change: most likely because
// each SQLite connection has its own page cache, and a second one in use
// reads its pages again (not verified further). Measured again with
// every overlap on (a day page's hour counts too), the heap taken at
// start (gcpolicy.Pretouch) and four idle connections kept rather than
// two: first day pages in fresh processes (8 alternated batches of 50)
// took 12.4 → 14.9 ms of CPU a page, p50 13.6 → 14.7 ms. On PostgreSQL
// they overlap (PreviousMembership with the rest, through overlap): a
// first page waited for each round trip in turn.
func (s *Server) loadTimeline(ctx context.Context, r store.Room, evs []store.Event, highlight id.EventID, run *dayData) (timelineData, error) {
	var d timelineData
	var err error
	prevMember := overlap(s, func() (map[id.EventID]json.RawMessage, error) {
		if run != nil {
			return s.store.PreviousMembershipInRun(ctx, evs)
		}
		return s.store.PreviousMembership(ctx, evs)
	})
	if run != nil {
		d.msgs = run.msgs
	} else if d.msgs, err = s.shownMessages(ctx, evs); err != nil {
		return d, err
	}
	if d.parents, d.lostRoots, err = s.replyParents(ctx, evs, d.msgs); err != nil {
		return d, err
	}
	if d.polls, err = s.polls(ctx, r, evs, highlight); err != nil {
		return d, err
	}
	if d.prevMember, err = prevMember(); err != nil {
		return d, err
	}
	d.successors = map[id.RoomID]store.Room{}
	for _, e := range evs {
		if e.Type != event.TypeTombstone || !e.IsState() {
			continue
		}
		succ := id.RoomID(event.StringField(e.Content, "replacement_room"))
		if _, done := d.successors[succ]; succ == "" || done {
			continue
		}
		// A room upgraded many times names few successors: one lookup
		// each, not one per tombstone.
		other, err := s.store.Room(ctx, succ)
		if err == nil && other.Shown() {
			// The tombstone is this room's word; it is linked only when
			// the new room names this one as its predecessor (upgrades
			// are claims: namesAsPredecessor).
			ok, cerr := s.namesAsPredecessor(ctx, other, r)
			if cerr != nil {
				return d, cerr
			}
			if ok {
				d.successors[succ] = other
			}
		}
		if d.looked == nil {
			d.looked = map[id.RoomID]string{}
		}
		d.looked[succ] = roomFact(other, err)
	}
	d.via = s.viaServers(ctx, r)
	return d, nil
}

// timeline loads and builds a page's items from its events, queueing the
// message bodies on q. On a thread's own page (threadPage) thread replies
// are shown in full, elsewhere compactly. run is loadTimeline's.
func (s *Server) timeline(ctx context.Context, r store.Room, evs []store.Event, highlight id.EventID, threadPage bool, run *dayData, q *renderQueue) ([]itemView, error) {
	d, err := s.loadTimeline(ctx, r, evs, highlight, run)
	if err != nil {
		return nil, err
	}
	if q.jobs == nil {
		// A job per message, a few more for the excerpts of replies.
		q.jobs = make([]renderJob, 0, len(d.msgs)+len(d.parents))
	}
	for other, fact := range d.looked {
		if q.rooms == nil {
			q.rooms = map[id.RoomID]string{}
		}
		q.rooms[other] = fact
	}
	return buildTimeline(r, evs, d, highlight, threadPage, q), nil
}

// replyParents loads the messages replied to, with their displayed form,
// and finds which thread replies' roots have no thread page (lost): a
// root the archive does not hold, or holds in another room (a relation
// is kept only in its target's room, and the thread page is the root's
// room's), not public or expired, or itself a relation (startsThread), as
// threadRoot judges it. Such a reply is shown in full, as a message, not
// as a line linking to a thread page that would be a 404. Both are looked
// up in one read.
func (s *Server) replyParents(ctx context.Context, evs []store.Event, msgs map[id.EventID]*shown) (parents map[id.EventID]*shown, lost map[id.EventID]bool, err error) {
	parents = map[id.EventID]*shown{}
	var missing []id.EventID
	childRoom := map[id.EventID]id.RoomID{}
	rootRoom := map[id.EventID]id.RoomID{}
	asked := map[id.EventID]bool{}
	ask := func(ev id.EventID) {
		if !asked[ev] {
			asked[ev] = true
			missing = append(missing, ev)
		}
	}
	for _, sh := range msgs {
		if root := sh.ev.Rel.EventID; sh.ev.Rel.Type == event.RelThread {
			if rs, ok := msgs[root]; !ok {
				rootRoom[root] = sh.ev.RoomID
				ask(root)
			} else if !startsThread(rs.ev) {
				if lost == nil {
					lost = map[id.EventID]bool{}
				}
				lost[root] = true
			}
		}
		p := sh.ev.Rel.ReplyTo
		if p == "" {
			continue
		}
		childRoom[p] = sh.ev.RoomID
		if ps, ok := msgs[p]; ok {
			parents[p] = ps
		} else {
			parents[p] = nil
			ask(p)
		}
	}
	if len(missing) == 0 {
		return parents, lost, nil
	}
	found, err := s.store.EventsByID(ctx, missing)
	if err != nil {
		return nil, nil, err
	}
	roots := map[id.EventID]bool{}
	var public []store.Event
	for _, f := range found {
		if room, ok := rootRoom[f.ID]; ok && f.RoomID == room && f.Public && !f.Expired && startsThread(f) {
			roots[f.ID] = true
		}
		// A reply can only quote its own room: a parent elsewhere (perhaps
		// in a hidden room) is treated as not archived.
		if room, ok := childRoom[f.ID]; ok && f.Public && f.RoomID == room {
			public = append(public, f)
		}
	}
	for root := range rootRoom {
		if !roots[root] {
			if lost == nil {
				lost = map[id.EventID]bool{}
			}
			lost[root] = true
		}
	}
	more, err := s.shownTexts(ctx, public)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range more {
		parents[k] = v
	}
	// A parent the archive holds that is no message (shownTexts shows
	// none): said so, not said to be missing.
	for _, f := range public {
		if parents[f.ID] == nil {
			parents[f.ID] = &shown{ev: f, notMessage: true}
		}
	}
	return parents, lost, nil
}
