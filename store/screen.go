package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// Read-side screening: which events, and how much of them, a read may
// return. Every read that returns events passes them through screen, so
// an opt-out or an expired retention cutoff holds on every route at once,
// before any purge or index update. The writes these follow live in
// optouts.go and retention.go.

// consentChangesSQL looks at the change feed after the position a cached
// copy of the policies and opt-outs is current to ($1): how many changes
// (at most consentScan, so a reader idle through a long import does not
// scan them all), the last position, and whether one of them is an
// opt-out, opt-in, erasure ($2), a room's visibility or policy ($3), or its
// archive controls ($4). Every write of any feeds one of those in its
// transaction, so a copy is current exactly as long as none has come.
//
// It also reads when the change at the copy's anchor ($5) was written,
// and when the feed's last change was (0 for none), each by its primary
// key: a position names a change only as long as the database keeps it. A
// database restored from an older backup, or failed over to a replica
// that lacked the last commits, gives the positions after its head to
// new changes; a copy current to a position past that head looked only
// after it, and an opt-out written at a reused position was never
// applied (TestOptOutAfterTheFeedWentBack). A copy now remembers its
// anchor, the feed's last change once it was loaded (what it holds may be
// newer than the head read before it) or the last it has looked past
// since, with when that change was written; another time there, or none,
// reloads it. Writers commit positions in order, so a feed that still
// holds the anchor's change holds every change before it.
//
// The position is read through a scalar subquery and the bound is a
// constant so that PostgreSQL's plan of it, and of RoomToRead's statement
// that holds it, is the same with the values as without: otherwise the
// plan for the values looked cheaper (no change after the position) than
// a generic one, PostgreSQL planned the statement anew on every request,
// and RoomToRead's planning (0.3-0.4 ms) was most of a page served again
// from the cache; now it keeps a generic plan after five runs
// (TestRoomToReadKeepsItsPlan). The index scan is the same.
var consentChangesSQL = `SELECT COUNT(*), COALESCE(MAX(pos), $1), COALESCE(MAX(CASE WHEN kind IN ($2, $3, $4) THEN 1 ELSE 0 END), 0),
	COALESCE((SELECT at FROM changes WHERE pos = (SELECT CAST($5 AS BIGINT))), 0),
	COALESCE((` + feedLastAtSQL + `), 0)
	FROM (SELECT pos, kind FROM changes WHERE pos > (SELECT CAST($1 AS BIGINT)) ORDER BY pos LIMIT ` + strconv.Itoa(consentScan) + `) c`

// feedLastAtSQL is when the feed's last change was written (no row for
// none).
const feedLastAtSQL = `SELECT at FROM changes ORDER BY pos DESC LIMIT 1`

// consentChangesArgs are consentChangesSQL's arguments: pos, the kinds,
// and the anchor.
func consentChangesArgs(pos, anchor int64) []any {
	return []any{pos, string(ChangeUser), string(ChangeHidden), string(ChangeListed), anchor}
}

// consentScan bounds consentChangesSQL: past that many changes, reloading
// is cheaper than looking through them.
const consentScan = 10000

// consent caches what reads need to hide: each room's own max_lifetime and
// the users who opted out, as of change-feed position pos, and the rooms
// that ask not to be listed (which a search of every room leaves out). Another process
// (archiver or archive-web) may change them; the feed says when.
type consent struct {
	mu     sync.Mutex
	loaded bool
	// wentBack counts the times this copy found the feed gone back
	// (ReadState.FeedWentBack).
	wentBack atomic.Int64
	pos      int64
	// anchor is the position of the change whose survival keeps the copy
	// valid, and anchorAt when it was written (ms; 0: none, or not
	// known): another time there means the feed went back
	// (consentChangesSQL).
	anchor, anchorAt int64
	// screened is the feed's head when the copy was loaded: it moves on
	// exactly when an opt-out, erasure, hidden room or policy may have
	// changed what screening hides (ReadState).
	screened int64
	// digest is a hash of roomMax and optouts (consentDigest): unlike
	// screened, the same in every process that reads the same archive.
	digest  string
	roomMax map[id.RoomID]int64
	optouts map[id.UserID]bool
	// optedOutAt is when each of optouts opted out (ms), for
	// OptedOutAt. Not in digest: screening does not depend on it.
	optedOutAt map[id.UserID]int64
	// unlisted: the rooms whose archive controls ask not to be listed
	// (ArchiveControls' Unlisted). Not in digest: screening ignores it.
	unlisted map[id.RoomID]bool
}

// consentDigest is a hash of what screening applies, in a fixed order.
func consentDigest(roomMax map[id.RoomID]int64, optouts map[id.UserID]bool) string {
	rooms := make([]string, 0, len(roomMax))
	for r := range roomMax {
		rooms = append(rooms, string(r))
	}
	slices.Sort(rooms)
	users := make([]string, 0, len(optouts))
	for u, out := range optouts {
		if out {
			users = append(users, string(u))
		}
	}
	slices.Sort(users)
	h := sha256.New()
	for _, r := range rooms {
		fmt.Fprintf(h, "r%d:%s=%d\n", len(r), r, roomMax[id.RoomID(r)])
	}
	for _, u := range users {
		fmt.Fprintf(h, "u%d:%s\n", len(u), u)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// consentView returns the current retention overrides and opt-outs: the
// cached copy while the change feed holds no change to them since it was
// loaded, else a fresh one. Its own writes reach it the same way, after
// their commit. The lock is not held over the queries, so reads do not
// queue behind one another.
func (s *Store) consentView(ctx context.Context) (map[id.RoomID]int64, map[id.UserID]bool, error) {
	v, err := s.screening(ctx)
	return v.roomMax, v.optouts, err
}

// screenState is one copy of what screening applies, with where it
// stood when loaded (consent.screened) and its digest.
type screenState struct {
	roomMax  map[id.RoomID]int64
	optouts  map[id.UserID]bool
	unlisted map[id.RoomID]bool
	screened int64
	digest   string
	// optedOutAt: consent.optedOutAt.
	optedOutAt map[id.UserID]int64
}

// screening is consentView's copy with its position and digest, taken
// together; under a ScreenOnce context, the one its first read took.
func (s *Store) screening(ctx context.Context) (screenState, error) {
	m, _ := ctx.Value(screenOnceKey{}).(*screenOnce)
	if m != nil && m.store == s {
		m.mu.Lock()
		done, v := m.done, m.state
		m.mu.Unlock()
		if done {
			return v, nil
		}
	}
	v, err := s.consentNow(ctx)
	if err == nil && m != nil && m.store == s {
		m.mu.Lock()
		if !m.done {
			m.done, m.state = true, v
		}
		v = m.state
		m.mu.Unlock()
	}
	return v, err
}

// screenOnce is what the first read under a ScreenOnce context found
// screening to be.
type screenOnce struct {
	store *Store
	mu    sync.Mutex
	done  bool
	state screenState
	read  map[id.RoomID]readStateRow // by RoomToRead, for ReadState
	// consent is consentChangesSQL's answer, read by RoomToRead, for
	// the request's first look at the feed (consentChanged).
	consent *consentAnswer
}

// consentAnswer is consentChangesSQL's answer after pos, with anchor.
type consentAnswer struct {
	pos, anchor, head int64
	n, relevant       int
	// anchorAt and headAt are when the changes at anchor and at the
	// feed's head were written (0: none).
	anchorAt, headAt int64
}

// dest is where consentChangesSQL's columns are scanned to.
func (a *consentAnswer) dest() []any {
	return []any{&a.n, &a.head, &a.relevant, &a.anchorAt, &a.headAt}
}

// wentBack reports whether the feed no longer holds the anchor's change,
// which a copy saw written at wantAt (0: not known).
func (a *consentAnswer) wentBack(wantAt int64) bool {
	return a.anchor > 0 && wantAt != 0 && a.anchorAt != wantAt
}

// changed reports whether policies or opt-outs may have changed since
// pos: a relevant change came after it, too many to look through, or the
// feed went back.
func (a *consentAnswer) changed(wantAt int64) bool {
	return a.relevant == 1 || a.n == consentScan || a.wentBack(wantAt)
}

type screenOnceKey struct{}

// ScreenOnce returns ctx under which reads screen with the opt-outs and
// policies as the first of them found them: one look at the change feed
// for a request (a web page's reads each looked, 6–8 queries of a day
// page), and one answer for all its reads, as a snapshot would give.
// Meant for a request's reads, which take milliseconds; a change
// committed meanwhile reaches the next request. Under a ScreenOnce of
// this store already (a search within a web request), ctx is returned as
// it is: one snapshot for the request, and no second look.
func (s *Store) ScreenOnce(ctx context.Context) context.Context {
	if m, _ := ctx.Value(screenOnceKey{}).(*screenOnce); m != nil && m.store == s {
		return ctx
	}
	return context.WithValue(ctx, screenOnceKey{}, &screenOnce{store: s})
}

// consentNow is screening without ScreenOnce.
func (s *Store) consentNow(ctx context.Context) (screenState, error) {
	c := &s.consent
	c.mu.Lock()
	loaded, pos, anchor, anchorAt := c.loaded, c.pos, c.anchor, c.anchorAt
	v := screenState{roomMax: c.roomMax, optouts: c.optouts, unlisted: c.unlisted, screened: c.screened, digest: c.digest, optedOutAt: c.optedOutAt}
	c.mu.Unlock()
	wentBack := false
	if loaded {
		a, err := s.consentChanged(ctx, pos, anchor)
		if err != nil {
			return screenState{}, err
		}
		if !a.changed(anchorAt) {
			c.mu.Lock()
			if c.pos == pos && c.anchor == anchor {
				c.pos = a.head
				if a.head > c.anchor {
					c.anchor, c.anchorAt = a.head, a.headAt
				} else if c.anchorAt == 0 {
					c.anchorAt = a.anchorAt
				}
			}
			c.mu.Unlock()
			return v, nil
		}
		if wentBack = a.wentBack(anchorAt); wentBack {
			// Before the reload: a reader that sees the copy
			// loaded from the restored feed sees the count moved.
			c.wentBack.Add(1)
		}
	}
	// The feed's head first: a change committed while loading is then
	// after it, and the next read sees it.
	head, headAt, _, err := s.feedHeadAt(ctx, 0)
	if err != nil {
		return screenState{}, err
	}
	if s.consentLoading != nil {
		s.consentLoading()
	}
	roomMax, err := s.roomPolicies(ctx)
	if err != nil {
		return screenState{}, err
	}
	optouts, optedOutAt, err := s.optedOutUsers(ctx)
	if err != nil {
		return screenState{}, err
	}
	unlisted, err := s.unlistedRooms(ctx)
	if err != nil {
		return screenState{}, err
	}
	// And after: what was loaded may hold a change committed meanwhile,
	// and the copy stands only while the feed holds it (its anchor). In
	// the same statement, the change at the first head: another, or
	// none, and the feed went back while loading.
	after, afterAt, stillAt, err := s.feedHeadAt(ctx, head)
	if err != nil {
		return screenState{}, err
	}
	v = screenState{roomMax: roomMax, optouts: optouts, unlisted: unlisted, screened: head, digest: consentDigest(roomMax, optouts), optedOutAt: optedOutAt}
	if after < head || stillAt != headAt {
		// This copy serves this read, counted as after a feed gone
		// back (its position is the lost feed's), and the next loads
		// anew.
		c.wentBack.Add(1)
		return v, nil
	}
	c.mu.Lock()
	// A load begun earlier than the copy's must not replace it, but
	// after the feed went back the copy's position is past every load's.
	if !c.loaded || head >= c.pos || (wentBack && c.pos == pos) {
		c.loaded, c.pos, c.anchor, c.anchorAt, c.screened, c.digest, c.roomMax, c.optouts, c.unlisted = true, head, after, afterAt, v.screened, v.digest, roomMax, optouts, unlisted
		c.optedOutAt = optedOutAt
	}
	c.mu.Unlock()
	return v, nil
}

// feedHeadAt is the feed's head and when its change was written (0 and 0
// for an empty feed), with, read in the same statement, when the change
// at pos was written (0: none; pos 0 names none).
func (s *Store) feedHeadAt(ctx context.Context, pos int64) (head, at, posAt int64, err error) {
	last, ok, byPos, err := s.LastChangeWith(ctx, pos, pos)
	if err != nil || !ok {
		return 0, 0, 0, err
	}
	if c, held := byPos[pos]; held {
		posAt = c.At.UnixMilli()
	}
	return last.Pos, last.At.UnixMilli(), posAt, nil
}

// consentChanged reads consentChangesSQL's answer after pos, with the
// copy's anchor (its head is pos when no change came after it). Under a
// ScreenOnce whose RoomToRead read the answer after pos already, that
// answer is taken, once.
func (s *Store) consentChanged(ctx context.Context, pos, anchor int64) (consentAnswer, error) {
	if m, _ := ctx.Value(screenOnceKey{}).(*screenOnce); m != nil && m.store == s {
		m.mu.Lock()
		a := m.consent
		m.consent = nil
		m.mu.Unlock()
		if a != nil && a.pos == pos && a.anchor == anchor {
			return *a, nil
		}
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	a := consentAnswer{pos: pos, anchor: anchor}
	if err := s.queryRow(ctx, consentChangesSQL, consentChangesArgs(pos, anchor)...).Scan(a.dest()...); err != nil {
		return consentAnswer{}, fmt.Errorf("changes to opt-outs and policies after %d: %w", pos, err)
	}
	return a, nil
}

// maxLifetime is a room's effective max_lifetime under the operator's
// policy.
func (s *Store) maxLifetime(roomMax map[id.RoomID]int64, room id.RoomID) (time.Duration, bool) {
	return s.opts.Retention.MaxLifetime(ownMax(roomMax, room))
}

// expiredBefore is the time (ms) before which a room's non-state events
// have expired; 0 when none expire.
func (s *Store) expiredBefore(roomMax map[id.RoomID]int64, room id.RoomID) int64 {
	return s.opts.Retention.ExpiredBefore(s.now(), ownMax(roomMax, room))
}

// ownMax is the room's own max_lifetime, nil when it sets none.
func ownMax(roomMax map[id.RoomID]int64, room id.RoomID) *int64 {
	if v, ok := roomMax[room]; ok {
		return &v
	}
	return nil
}

// Cutoffs is where retention stands now: a room's non-state events older
// than its cutoff (ms) have expired; 0: none have. Default applies to the
// rooms not in Rooms, which holds those with a policy of their own.
type Cutoffs struct {
	Default int64
	Rooms   map[id.RoomID]int64
	// Unlisted holds the rooms whose archive controls ask not to be
	// listed, which a search of every room leaves out.
	Unlisted map[id.RoomID]bool
}

// ExpiryCutoffs returns what screen hides as expired at this moment, for a
// reader (the search index) that must apply the same cutoffs itself, with
// the rooms that ask not to be listed as of the same look at the feed.
func (s *Store) ExpiryCutoffs(ctx context.Context) (Cutoffs, error) {
	v, err := s.screening(ctx)
	if err != nil {
		return Cutoffs{}, err
	}
	roomMax := v.roomMax
	c := Cutoffs{Rooms: make(map[id.RoomID]int64, len(roomMax)), Unlisted: v.unlisted}
	c.Default = s.opts.Retention.ExpiredBefore(s.now(), nil)
	for room := range roomMax {
		c.Rooms[room] = s.expiredBefore(roomMax, room)
	}
	return c, nil
}

// screen applies consent to events read from the database: an opted-out
// sender's events lose their content (OptedOut; a reaction its key), and
// expired non-state events are marked Expired and, unless keepExpired,
// dropped. State events stay (they place the room's history), but an
// opted-out user's display name leaves them: the name copied in as their
// sender's, and the profile in member events about them. Every read that
// returns events goes through it, so no route can show what the sender or
// the room's policy withdrew.
func (s *Store) screen(ctx context.Context, evs []Event, keepExpired bool) ([]Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	roomMax, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	cutoffs := map[id.RoomID]int64{}
	out := evs[:0]
	for _, e := range evs {
		cut, ok := cutoffs[e.RoomID]
		if !ok {
			cut = s.expiredBefore(roomMax, e.RoomID)
			cutoffs[e.RoomID] = cut
		}
		if !e.IsState() && e.OriginTS < cut {
			if !keepExpired {
				continue
			}
			e.Expired = true
			e.withdraw()
		}
		switch {
		case optouts[e.Sender] && !e.IsState():
			e.OptedOut = true
			e.withdraw()
		case e.IsState():
			if optouts[e.Sender] {
				e.SenderName = ""
			}
			switch {
			case e.Type != event.TypeMember:
			case optouts[id.UserID(*e.StateKey)]:
				e.setContent(withdrawnProfile(e.Content, !optouts[e.Sender]))
			case optouts[e.Sender] && bytes.Contains(e.Content, []byte(`"reason"`)):
				// A kick's or ban's reason is its sender's words, as a
				// redaction's is (withdrawnReason); who it is about,
				// and their profile, stay.
				e.setContent(withoutReason(e.Content))
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// withdraw removes an event's content, keeping what places it: IDs, sender,
// type, time and relation (a reaction's key is content: it goes).
func (e *Event) withdraw() {
	e.Content = json.RawMessage(`{}`)
	e.Raw, _ = json.Marshal(map[string]any{
		"event_id": e.ID, "room_id": e.RoomID, "sender": e.Sender, "type": e.Type,
		"origin_server_ts": e.OriginTS, "content": e.Content,
	})
	e.SenderName = ""
	e.Rel.Key = ""
}

// setContent replaces a state event's content, in Raw too, so that no
// reader of either sees the old one.
func (e *Event) setContent(c json.RawMessage) {
	e.Content = c
	raw := map[string]any{
		"event_id": e.ID, "room_id": e.RoomID, "sender": e.Sender, "type": e.Type,
		"origin_server_ts": e.OriginTS, "content": c,
	}
	if e.StateKey != nil {
		raw["state_key"] = *e.StateKey
	}
	e.Raw, _ = json.Marshal(raw)
}

// withdrawnProfile is a member event's content without its user's profile
// (display name, avatar): only the membership, and the reason when someone
// else gave it (keepReason; a moderator's words are not the user's).
func withdrawnProfile(content json.RawMessage, keepReason bool) json.RawMessage {
	out := map[string]string{"membership": event.StringField(content, "membership")}
	if r := event.StringField(content, "reason"); r != "" && keepReason {
		out["reason"] = r
	}
	b, _ := json.Marshal(out)
	return b
}

// withoutReason is a member event's content without its reason, of
// whatever type (a reason that is not a string is no less their words).
func withoutReason(content json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(content, &fields) != nil {
		return withdrawnProfile(content, false)
	}
	if _, ok := fields["reason"]; !ok {
		return content
	}
	delete(fields, "reason")
	b, _ := json.Marshal(fields)
	return b
}

// withdrawnReason blanks the reason of a redaction whose sender opted out:
// its words are theirs. Who redacted, and when, stay: moderators need them,
// and the user ID is not the user's words.
func withdrawnReason(r *Redaction, optouts map[id.UserID]bool) {
	if optouts[r.Sender] {
		r.Reason = ""
	}
}

// OptedOut reports whether a user has opted out.
func (s *Store) OptedOut(ctx context.Context, user id.UserID) (bool, error) {
	_, optouts, err := s.consentView(ctx)
	return optouts[user], err
}

// OptedOutAt is when user opted out (optouts.at), as the reads under ctx
// screen (ScreenOnce): zero if they have not. It is when their messages
// were withdrawn (OptOutRedaction has no time of its own), read from
// screening's copy, so it costs no query of its own.
func (s *Store) OptedOutAt(ctx context.Context, user id.UserID) (time.Time, error) {
	v, err := s.screening(ctx)
	if err != nil || !v.optouts[user] {
		return time.Time{}, err
	}
	return time.UnixMilli(v.optedOutAt[user]).UTC(), nil
}
