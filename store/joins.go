package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

const (
	// A joined room whose backfill never completed and is due: never
	// tried (no row, or no state), or failed and past its back-off.
	backfillDueSQL = `SELECT r.room_id FROM rooms r LEFT JOIN room_follow f ON f.room_id = r.room_id
		WHERE r.bot_membership = 'join' AND NOT r.purged
		AND (f.room_id IS NULL OR (f.backfill_state IN ('', 'failed') AND f.backfill_next_at <= $1))
		ORDER BY r.room_id LIMIT $2`
	addPendingJoinSQL = `INSERT INTO pending_joins (target, kind, inviter, predecessor, via, added_at, next_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (target) DO NOTHING`
	duePendingJoinsSQL = `SELECT target, kind, inviter, predecessor, via, added_at, attempts, next_at, last_error
		FROM pending_joins WHERE next_at <= $1 ORDER BY next_at, target LIMIT $2`
	postponeJoinSQL   = `UPDATE pending_joins SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE target = $1`
	deletePendingJoin = `DELETE FROM pending_joins WHERE target = $1`
)

// BackfillDue lists up to limit joined rooms whose backfill has not
// completed and is due at now: the archiver retries them, so a failed first
// backfill does not leave a silent gap.
func (s *Store) BackfillDue(ctx context.Context, now time.Time, limit int) ([]id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rooms, err := scanStrings(s.db.QueryContext(ctx, backfillDueSQL, now.UnixMilli(), limit))
	if err != nil {
		return nil, fmt.Errorf("rooms due a backfill: %w", err)
	}
	out := make([]id.RoomID, len(rooms))
	for i, r := range rooms {
		out[i] = id.RoomID(r)
	}
	return out, nil
}

// PendingJoin is a join the archive was asked for and has not yet carried
// out (or refused).
type PendingJoin struct {
	// Target is the room ID (or alias) to join.
	Target string
	// Kind says who asked: "invite" or "tombstone" (the manager's words).
	Kind        string
	Inviter     id.UserID
	Predecessor id.RoomID
	Via         []string
	AddedAt     time.Time
	Attempts    int
	NextAt      time.Time
	LastError   string
}

// AddPendingJoin records a join to carry out; a target already pending
// keeps its first record.
func (s *Store) AddPendingJoin(ctx context.Context, p PendingJoin) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	if err := s.execWrite(ctx, func(ex execer) error {
		_, err := ex.ExecContext(ctx, addPendingJoinSQL, p.Target, p.Kind, string(p.Inviter), string(p.Predecessor),
			strings.Join(p.Via, " "), s.now().UnixMilli())
		return err
	}); err != nil {
		return fmt.Errorf("record pending join of %s: %w", p.Target, err)
	}
	return nil
}

// DuePendingJoins returns up to limit pending joins due at now, the
// longest waiting first.
func (s *Store) DuePendingJoins(ctx context.Context, now time.Time, limit int) ([]PendingJoin, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, duePendingJoinsSQL, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("pending joins: %w", err)
	}
	defer rows.Close()
	var out []PendingJoin
	for rows.Next() {
		var p PendingJoin
		var inviter, pred, via string
		var added, next int64
		if err := rows.Scan(&p.Target, &p.Kind, &inviter, &pred, &via, &added, &p.Attempts, &next, &p.LastError); err != nil {
			return nil, fmt.Errorf("pending joins: %w", err)
		}
		p.Inviter, p.Predecessor, p.Via = id.UserID(inviter), id.RoomID(pred), strings.Fields(via)
		p.AddedAt, p.NextAt = timeOrZero(added), timeOrZero(next)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pending joins: %w", err)
	}
	return out, nil
}

// PostponePendingJoin records a failed attempt and when to try again.
func (s *Store) PostponePendingJoin(ctx context.Context, target string, next time.Time, cause string) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	if err := s.execWrite(ctx, func(ex execer) error {
		_, err := ex.ExecContext(ctx, postponeJoinSQL, target, next.UnixMilli(), cause)
		return err
	}); err != nil {
		return fmt.Errorf("postpone join of %s: %w", target, err)
	}
	return nil
}

// DonePendingJoin forgets a join carried out or refused.
func (s *Store) DonePendingJoin(ctx context.Context, target string) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	if err := s.execWrite(ctx, func(ex execer) error {
		_, err := ex.ExecContext(ctx, deletePendingJoin, target)
		return err
	}); err != nil {
		return fmt.Errorf("forget pending join of %s: %w", target, err)
	}
	return nil
}
