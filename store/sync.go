package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix/id"
)

const (
	getRoomSyncSQL = `SELECT COALESCE(s.forward_token, ''), COALESCE(s.complete_from_ts, 0), COALESCE(s.reached_create, FALSE),
		COALESCE(s.backfilled_at, 0), COALESCE(s.sweep_at, 0),
		COALESCE(f.backfill_state, ''), COALESCE(f.backfill_attempts, 0), COALESCE(f.backfill_next_at, 0),
		COALESCE(f.backfill_error, ''), COALESCE(f.not_public_since, 0), COALESCE(s.sweep_visibility, '')
		FROM (SELECT $1 AS room_id) q LEFT JOIN room_sync s ON s.room_id = q.room_id LEFT JOIN room_follow f ON f.room_id = q.room_id
		WHERE s.room_id IS NOT NULL OR f.room_id IS NOT NULL`
	putRoomSyncSQL = `INSERT INTO room_sync (room_id, forward_token, complete_from_ts, reached_create, backfilled_at, sweep_at, sweep_visibility)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (room_id) DO UPDATE SET forward_token = excluded.forward_token,
		complete_from_ts = excluded.complete_from_ts, reached_create = excluded.reached_create,
		backfilled_at = excluded.backfilled_at, sweep_at = excluded.sweep_at, sweep_visibility = excluded.sweep_visibility`
	putRoomFollowSQL = `INSERT INTO room_follow (room_id, backfill_state, backfill_attempts, backfill_next_at, backfill_error, not_public_since)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (room_id) DO UPDATE SET backfill_state = excluded.backfill_state, backfill_attempts = excluded.backfill_attempts,
		backfill_next_at = excluded.backfill_next_at, backfill_error = excluded.backfill_error, not_public_since = excluded.not_public_since`
	joinedRoomsSQL = `SELECT room_id FROM rooms WHERE bot_membership = 'join' ORDER BY room_id`
	txnSQL         = `SELECT events, deliveries FROM appservice_txns WHERE txn_id = $1`
)

// RoomSync is how far the archiver has followed a room.
type RoomSync struct {
	RoomID id.RoomID
	// ForwardToken is where the next forward /messages sweep starts, and
	// SweepVisibility the room's history visibility there in the room's
	// order, where known (migration 033): a sweep's first page is judged
	// by it, as its next pages are by the one before (ingestSweep).
	ForwardToken    string
	SweepVisibility string
	// CompleteFrom: the archive holds the room's history from this moment
	// to the present; zero until a backfill finishes.
	CompleteFrom time.Time
	// ReachedCreate: that history goes back to the room's creation.
	ReachedCreate bool
	BackfilledAt  time.Time
	SweptAt       time.Time
	// Backfill is how the room's backfill went (BackfillComplete,
	// BackfillFailed, BackfillRefused, or "" never tried); a failed one is retried from
	// BackfillNextAt. BackfillError is the last failure, for the operator.
	Backfill         string
	BackfillAttempts int
	BackfillNextAt   time.Time
	BackfillError    string
	// NotPublicSince is when the room was first seen not world-readable
	// since it last was; zero while it is.
	NotPublicSince time.Time
}

// Backfill states.
const (
	BackfillComplete = "complete"
	BackfillFailed   = "failed"
	// BackfillRefused: the archiver declined the room (it leaves it);
	// nothing is read until it is joined again.
	BackfillRefused = "refused"
)

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// RoomSync returns a room's sync state; a room never synced has a zero one.
func (s *Store) RoomSync(ctx context.Context, roomID id.RoomID) (RoomSync, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rs := RoomSync{RoomID: roomID}
	var complete, backfilled, swept, next, notPublic int64
	err := s.db.QueryRowContext(ctx, getRoomSyncSQL, string(roomID)).Scan(&rs.ForwardToken, &complete, &rs.ReachedCreate, &backfilled, &swept,
		&rs.Backfill, &rs.BackfillAttempts, &next, &rs.BackfillError, &notPublic, &rs.SweepVisibility)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return rs, fmt.Errorf("sync state of %s: %w", roomID, err)
	}
	rs.CompleteFrom, rs.BackfilledAt, rs.SweptAt = timeOrZero(complete), timeOrZero(backfilled), timeOrZero(swept)
	rs.BackfillNextAt, rs.NotPublicSince = timeOrZero(next), timeOrZero(notPublic)
	return rs, nil
}

// SetRoomSync saves a room's sync state.
func (s *Store) SetRoomSync(ctx context.Context, rs RoomSync) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	// Two rows, each consistent on its own: no transaction needed.
	err := s.execWrite(ctx, func(ex execer) error {
		_, err := ex.ExecContext(ctx, putRoomSyncSQL, string(rs.RoomID), rs.ForwardToken, msOrZero(rs.CompleteFrom),
			rs.ReachedCreate, msOrZero(rs.BackfilledAt), msOrZero(rs.SweptAt), rs.SweepVisibility)
		if err == nil {
			_, err = ex.ExecContext(ctx, putRoomFollowSQL, string(rs.RoomID),
				rs.Backfill, rs.BackfillAttempts, msOrZero(rs.BackfillNextAt), rs.BackfillError, msOrZero(rs.NotPublicSince))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("save sync state of %s: %w", rs.RoomID, err)
	}
	return nil
}

// JoinedRooms lists the rooms the archive bot is joined to, as far as the
// archive has seen.
func (s *Store) JoinedRooms(ctx context.Context) ([]id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, joinedRoomsSQL)
	if err != nil {
		return nil, fmt.Errorf("joined rooms: %w", err)
	}
	defer rows.Close()
	var out []id.RoomID
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("joined rooms: %w", err)
		}
		out = append(out, id.RoomID(r))
	}
	return out, rows.Err()
}

// Transaction reports whether an appservice transaction was committed, with
// its largest event count and how many times it was delivered.
func (s *Store) Transaction(ctx context.Context, txnID string) (events, deliveries int, err error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	err = s.db.QueryRowContext(ctx, txnSQL, txnID).Scan(&events, &deliveries)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("transaction %s: %w", txnID, ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("transaction %s: %w", txnID, err)
	}
	return events, deliveries, nil
}
