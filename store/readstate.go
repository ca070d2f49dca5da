package store

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// readStateSQL is, in one round trip, a room's newest change-feed
// position (0 for none: one probe of the changes_room index on both
// databases; ORDER BY … LIMIT rather than MAX, which SQLite optimises only
// on an index's first column), its sync state's history fields, and the
// IRC-imported room naming it as successor (predecessorOfSQL).
const readStateSQL = `SELECT COALESCE((` + roomHeadSQL + `), 0),
	COALESCE((SELECT complete_from_ts FROM room_sync WHERE room_id = $1), 0),
	COALESCE((SELECT reached_create FROM room_sync WHERE room_id = $1), FALSE),
	COALESCE((` + predecessorOfSQL + `), '')`

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
}

// ReadState returns where the archive stands for room, in the query
// screening makes anyway and one more.
func (s *Store) ReadState(ctx context.Context, room id.RoomID) (ReadState, error) {
	v, err := s.screening(ctx)
	if err != nil {
		return ReadState{}, err
	}
	roomMax := v.roomMax
	// The position and digest of the very copy reads screen with.
	rs := ReadState{Sync: RoomSync{RoomID: room}, Screened: v.screened, Screening: v.digest}
	qctx, cancel := s.readCtx(ctx)
	defer cancel()
	var complete int64
	var pred string
	if err := s.queryRow(qctx, readStateSQL, string(room)).Scan(&rs.RoomHead, &complete, &rs.Sync.ReachedCreate, &pred); err != nil {
		return ReadState{}, fmt.Errorf("read state of %s: %w", room, err)
	}
	rs.Sync.CompleteFrom, rs.ImportedPredecessor = timeOrZero(complete), id.RoomID(pred)
	rs.Cutoff = s.expiredBefore(roomMax, room)
	return rs, nil
}
