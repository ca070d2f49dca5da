package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// roomHeadSQL is a room's newest change-feed position (no row for none):
// one probe of the changes_room index on both databases (ORDER BY … LIMIT
// rather than MAX, which SQLite optimises only on an index's first
// column).
const roomHeadSQL = `SELECT pos FROM changes WHERE room_id = $1 ORDER BY pos DESC LIMIT 1`

// ReadState is where the archive stands for a reader that keeps what it
// read of one room (web's page keys). roomHead is the room's newest
// change-feed position: every write that changes what a read of the room
// returns (its events, edits, redactions, expiry purges, its own row and
// policy) feeds a change of the room in its own transaction, and writers
// are serialised, so positions commit in order and a read that starts
// after this call sees at least what roomHead says. screened moves on
// whenever screening may hide more or less (an opt-out or erasure, which
// is no one room's change, or a room hidden or its policy changed): the
// feed's head when the copy of opt-outs and policies was last loaded.
// cutoff is the time (ms) before which room's non-state events have
// expired now (0: none have; it moves with the clock, with no change in
// the feed). Changes to other rooms move neither roomHead nor screened.
func (s *Store) ReadState(ctx context.Context, room id.RoomID) (roomHead, screened, cutoff int64, err error) {
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	s.consent.mu.Lock()
	screened = s.consent.screened
	s.consent.mu.Unlock()
	qctx, cancel := s.readCtx(ctx)
	defer cancel()
	err = s.db.QueryRowContext(qctx, roomHeadSQL, string(room)).Scan(&roomHead)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil // no change yet: position 0
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("change-feed position of %s: %w", room, err)
	}
	return roomHead, screened, s.expiredBefore(roomMax, room), nil
}
