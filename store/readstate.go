package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"
)

// readStateSQL is, in one round trip, a room's newest change-feed
// position (0 for none: one probe of the changes_room index on both
// databases; ORDER BY … LIMIT rather than MAX, which SQLite optimises only
// on an index's first column), its sync state's history fields, and the
// IRC-imported room naming it as successor (predecessorOfSQL).
const readStateSQL = `SELECT ` + readStateFields

const readStateFields = `COALESCE((` + roomHeadSQL + `), 0),
	COALESCE((SELECT complete_from_ts FROM room_sync WHERE room_id = $1), 0),
	COALESCE((SELECT reached_create FROM room_sync WHERE room_id = $1), FALSE),
	COALESCE((` + predecessorOfSQL + `), '')`

// roomReadSQL is getRoomSQL with the room's readStateFields after its
// row, read in the same statement (RoomToRead); roomReadConsentSQL adds
// consentChangesSQL's answer for its $2… (one row of an aggregate).
const roomReadSQL = `SELECT ` + roomColumns + `, ` + readStateFields + ` FROM rooms WHERE room_id = $1`

var roomReadConsentSQL = `SELECT ` + roomColumns + `, ` + readStateFields + `, c.* FROM rooms
	CROSS JOIN (` + strings.NewReplacer("$1", "$2", "$2", "$3", "$3", "$4", "$4", "$5", "$5", "$6").Replace(consentChangesSQL) + `) c
	WHERE rooms.room_id = $1`

// roomReadConsentArgs are roomReadConsentSQL's arguments: the room, then
// consentChangesSQL's.
func roomReadConsentArgs(room string, pos, anchor int64) []any {
	return append([]any{room}, consentChangesArgs(pos, anchor)...)
}

// readStateRow is what readStateFields hold.
type readStateRow struct {
	head, complete int64
	reachedCreate  bool
	pred           string
}

func (r *readStateRow) dest() []any {
	return []any{&r.head, &r.complete, &r.reachedCreate, &r.pred}
}

// RoomToRead is Room for a request about to read the room's ReadState
// (web's pages, whose cache keys begin with it): it reads the room's
// read-state fields in the same statement, and under a ScreenOnce context
// the request's ReadState of the room takes them from there, not from a
// query of its own; when the request has not yet looked at the change
// feed for opt-outs and policies, that look is in the statement too
// (consentChanged takes it from there). A page served from the cache
// asked three queries, each a round trip on PostgreSQL; it asks one
// (TestRepeatedPageNotLoaded). Read in one statement, the row and the fields
// agree; all are read before the page is, as ReadState's guarantee asks.
func (s *Store) RoomToRead(ctx context.Context, roomID id.RoomID) (Room, error) {
	m, _ := ctx.Value(screenOnceKey{}).(*screenOnce)
	if m == nil || m.store != s {
		return s.Room(ctx, roomID)
	}
	m.mu.Lock()
	screened := m.done
	m.mu.Unlock()
	c := &s.consent
	c.mu.Lock()
	loaded, pos, anchor := c.loaded, c.pos, c.anchor
	c.mu.Unlock()
	query, args := roomReadSQL, []any{string(roomID)}
	var st readStateRow
	var ch consentAnswer
	more := st.dest()
	look := loaded && !screened // the request's look at the feed, in this statement
	if look {
		query, args = roomReadConsentSQL, roomReadConsentArgs(string(roomID), pos, anchor)
		more = append(more, ch.dest()...)
	}
	qctx, cancel := s.readCtx(ctx)
	defer cancel()
	r, err := scanRoom(withMore{s.queryRow(qctx, query, args...), more})
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, fmt.Errorf("room %s: %w", roomID, ErrNotFound)
	}
	if err != nil {
		return Room{}, fmt.Errorf("room %s: %w", roomID, err)
	}
	m.mu.Lock()
	if m.read == nil {
		m.read = map[id.RoomID]readStateRow{}
	}
	m.read[roomID] = st
	if look {
		ch.pos, ch.anchor = pos, anchor
		m.consent = &ch
	}
	m.mu.Unlock()
	return s.withPolicy(r), nil
}

// withMore scans a row into a scanner's destinations and then more.
type withMore struct {
	sc   interface{ Scan(...any) error }
	more []any
}

func (w withMore) Scan(dest ...any) error {
	return w.sc.Scan(append(dest, w.more...)...)
}

// roomHeadSQL is a room's newest change-feed position (no row for none).
const roomHeadSQL = `SELECT pos FROM changes WHERE room_id = $1 ORDER BY pos DESC LIMIT 1`

// ReadState is where the archive stands for a reader that keeps what it
// read of one room (web's page keys).
type ReadState struct {
	// RoomHead is the room's newest change-feed position: every write that
	// changes what a read of the room returns (its events, edits,
	// redactions, expiry purges, its own row and policy) feeds a change of
	// the room in its own transaction, and writers are serialised, so
	// positions commit in order and a read that starts after ReadState
	// sees at least what RoomHead says.
	RoomHead int64
	// Screened moves on whenever screening may hide more or less (an
	// opt-out or erasure, which is no one room's change, or a room hidden
	// or its policy changed): the feed's head when the copy of opt-outs
	// and policies was last loaded. Changes to other rooms move neither.
	Screened int64
	// Screening is a digest of the opt-outs and room policies screening
	// applies: it changes when they do, like Screened, but is the same in
	// every process reading the same archive, so what is derived from it
	// (web's ETags) agrees across replicas and restarts.
	Screening string
	// Cutoff is the time (ms) before which the room's non-state events
	// have expired now (0: none have; it moves with the clock, with no
	// change in the feed).
	Cutoff int64
	// Sync holds the room's sync state as far as readers see it
	// (CompleteFrom, ReachedCreate), which feeds no change.
	Sync RoomSync
	// ImportedPredecessor is ImportedPredecessor's answer ("" for none),
	// which another room's row decides.
	ImportedPredecessor id.RoomID
	// FeedWentBack counts the times this process found the change feed
	// holding another change at a position it had read (a database
	// restored from an older backup, a failover to a replica that lacked
	// the last commits: consentChangesSQL). The positions after the
	// restored head name other changes than before, so RoomHead and
	// Screened may repeat a value they had with other content; what is
	// kept by them must be kept by this count too.
	FeedWentBack int64
}

// ReadState returns where the archive stands for room, in the query
// screening makes anyway and one more (none after RoomToRead read the
// room under the same ScreenOnce).
func (s *Store) ReadState(ctx context.Context, room id.RoomID) (ReadState, error) {
	v, err := s.screening(ctx)
	if err != nil {
		return ReadState{}, err
	}
	roomMax := v.roomMax
	// The position and digest of the very copy reads screen with.
	rs := ReadState{Sync: RoomSync{RoomID: room}, Screened: v.screened, Screening: v.digest, FeedWentBack: s.consent.wentBack.Load()}
	var st readStateRow
	ok := false
	if m, _ := ctx.Value(screenOnceKey{}).(*screenOnce); m != nil && m.store == s {
		m.mu.Lock()
		st, ok = m.read[room] // RoomToRead's
		m.mu.Unlock()
	}
	if !ok {
		qctx, cancel := s.readCtx(ctx)
		defer cancel()
		if err := s.queryRow(qctx, readStateSQL, string(room)).Scan(st.dest()...); err != nil {
			return ReadState{}, fmt.Errorf("read state of %s: %w", room, err)
		}
	}
	rs.RoomHead, rs.Sync.ReachedCreate = st.head, st.reachedCreate
	rs.Sync.CompleteFrom, rs.ImportedPredecessor = timeOrZero(st.complete), id.RoomID(st.pred)
	rs.Cutoff = s.expiredBefore(roomMax, room)
	return rs, nil
}
