package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// A room's predecessor is normally named by its own create event. A room
// made by an IRC import for a channel that moved to Matrix cannot be
// named so (the Matrix room's create event is not ours to write); its
// tombstone names the successor, and the successor finds it here. Only
// such rooms count (created by the import, whose event IDs start with
// "$irc-", and never joined by the bot): a tombstone in any recorded
// Matrix room could otherwise claim any room as its successor.
const predecessorOfSQL = `SELECT room_id FROM rooms
	WHERE successor_room_id = $1 AND bot_membership = '' AND NOT purged AND create_event_id LIKE '$irc-%'
	ORDER BY room_id LIMIT 1`

// ImportedPredecessor returns the IRC-imported room that names room as its
// successor; ErrNotFound if none does.
func (s *Store) ImportedPredecessor(ctx context.Context, room id.RoomID) (id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var pred string
	err := s.queryRow(ctx, predecessorOfSQL, string(room)).Scan(&pred)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("predecessor of %s: %w", room, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("predecessor of %s: %w", room, err)
	}
	return id.RoomID(pred), nil
}
