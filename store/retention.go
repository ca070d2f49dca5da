package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/retention"
)

// Retention's SQL: what a room's own policy says, and the purge of what
// expired under it. The policy's rules (lifetimes, clamps, the cutoff) are
// package retention's; screen.go hides expired events on every read.
const (
	latestRetentionSQL = `SELECT raw FROM events WHERE room_id = $1 AND type IN ('m.room.retention', 'org.matrix.msc1763.retention')
		AND state_key = '' AND ` + sentInTimeSQL + ` ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	roomPoliciesSQL = `SELECT room_id, retention_max_lifetime FROM rooms WHERE retention_max_lifetime IS NOT NULL`
)

// roomPolicies loads each room's own max_lifetime (ms), for the rooms that
// set one.
func (s *Store) roomPolicies(ctx context.Context) (map[id.RoomID]int64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, roomPoliciesSQL)
	if err != nil {
		return nil, fmt.Errorf("load retention policies: %w", err)
	}
	defer rows.Close()
	roomMax := map[id.RoomID]int64{}
	for rows.Next() {
		var r string
		var v int64
		if err := rows.Scan(&r, &v); err != nil {
			return nil, fmt.Errorf("load retention policies: %w", err)
		}
		roomMax[id.RoomID(r)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load retention policies: %w", err)
	}
	return roomMax, nil
}

// PurgeExpired deletes the messages (every non-state event) that have
// expired under their room's retention policy, except each room's latest
// event, in batches, leaving tombstones. They were hidden from the moment
// they expired; this frees the space and drops them from the index. It
// returns how many events each room lost (or would lose, with dryRun);
// progress, if set, hears of each batch after its commit (the retention
// job logs them).
func (s *Store) PurgeExpired(ctx context.Context, dryRun bool, progress func(retention.Batch)) (map[id.RoomID]int64, error) {
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	rooms, err := s.allRoomIDs(ctx)
	if err != nil {
		return nil, err
	}
	out := map[id.RoomID]int64{}
	for _, room := range rooms {
		cut := s.expiredBefore(roomMax, room)
		if cut == 0 {
			continue
		}
		const where = ` FROM events WHERE room_id = $1 AND state_key IS NULL AND origin_ts < $2
			AND nid <> (SELECT l.nid FROM events l WHERE l.room_id = $1 ORDER BY l.origin_ts DESC, l.nid DESC LIMIT 1)`
		var batchDone func(int)
		if progress != nil {
			batchDone = func(n int) { progress(retention.Batch{Room: room, Deleted: n}) }
		}
		n, err := s.deleteInBatches(ctx, dryRun, `SELECT COUNT(*)`+where, `SELECT `+victimColumns+where+` ORDER BY origin_ts, nid LIMIT $3`,
			TombstoneExpired, batchDone, string(room), cut)
		if n > 0 {
			out[room] = n
		}
		if err == nil && !dryRun {
			err = s.feedKeptExpired(ctx, room, cut)
		}
		if err != nil {
			return out, fmt.Errorf("purge expired events of %s: %w", room, err)
		}
	}
	if dryRun {
		return out, nil
	}
	// The quarantine's expired messages go too: it keeps them as received.
	err = s.inWrite(ctx, func(w *writer) error {
		_, err := w.dropQuarantined(ctx, func(room id.RoomID, ev *event.Event) bool {
			cut := s.expiredBefore(roomMax, room)
			return cut > 0 && !ev.IsState() && ev.OriginTS < cut
		})
		return err
	})
	if err != nil {
		return out, fmt.Errorf("purge expired events: %w", err)
	}
	return out, nil
}

// feedKeptExpired appends a change for a room's latest event once it has
// expired: the purge keeps it, hidden, and without a change the index
// would hold it until a newer event let the purge delete it. Once per
// event per process; a repeat after a restart is harmless.
func (s *Store) feedKeptExpired(ctx context.Context, room id.RoomID, cut int64) error {
	var nid, ts int64
	var evID string
	var state bool
	rctx, cancel := s.readCtx(ctx)
	err := s.db.QueryRowContext(rctx, `SELECT nid, event_id, state_key IS NOT NULL, origin_ts FROM events WHERE room_id = $1
		ORDER BY origin_ts DESC, nid DESC LIMIT 1`, string(room)).Scan(&nid, &evID, &state, &ts)
	cancel()
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if state || ts >= cut {
		return nil // state is never purged; a recent event has not expired
	}
	if v, ok := s.keptExpired.Load(room); ok && v.(int64) == nid {
		return nil
	}
	if err := s.inWrite(ctx, func(w *writer) error { return w.feed(ctx, ChangeExpired, room, id.EventID(evID)) }); err != nil {
		return err
	}
	s.keptExpired.Store(room, nid)
	return nil
}
