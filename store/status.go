package store

import (
	"context"
	"fmt"
)

// RoomStatus is what the operator needs to know about one room: the room,
// how its recording stands (sync and backfill), and its media queue.
type RoomStatus struct {
	Room Room
	Sync RoomSync
	// MediaPending counts media files still to fetch; MediaGaveUp those
	// whose retries stopped (until `archiver media fetch`).
	MediaPending int64
	MediaGaveUp  int64
}

// RoomStatuses returns the status of every room the archive knows,
// hidden, purged and not public ones included, by room ID.
func (s *Store) RoomStatuses(ctx context.Context) ([]RoomStatus, error) {
	ids, err := s.allRoomIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("room statuses: %w", err)
	}
	out := make([]RoomStatus, 0, len(ids))
	for _, room := range ids {
		var rs RoomStatus
		if rs.Room, err = s.Room(ctx, room); err != nil {
			return nil, err
		}
		if rs.Sync, err = s.RoomSync(ctx, room); err != nil {
			return nil, err
		}
		qctx, cancel := s.readCtx(ctx)
		err = s.db.QueryRowContext(qctx, `SELECT COALESCE(SUM(CASE WHEN gave_up THEN 0 ELSE 1 END), 0), COALESCE(SUM(CASE WHEN gave_up THEN 1 ELSE 0 END), 0)
			FROM media_queue WHERE room_id = $1`, string(room)).Scan(&rs.MediaPending, &rs.MediaGaveUp)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("media queue of %s: %w", room, err)
		}
		out = append(out, rs)
	}
	return out, nil
}
