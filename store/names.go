package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// Ingest copies into each event (events.sender_name) the display name its
// sender's member event in force set: the latest one they sent themselves
// at or before the event's timestamp (ingest's roomState.displayName). So
// the events a member event named are its user's events from its
// timestamp to the next member event they sent.
const (
	nextMemberSQL = `SELECT origin_ts FROM events
		WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND sender = $2 AND origin_ts > $3
		ORDER BY origin_ts LIMIT 1`
	forgetNameSQL = `UPDATE events SET sender_name = ''
		WHERE sender = $1 AND room_id = $2 AND origin_ts >= $3 AND origin_ts < $4 AND sender_name <> ''`
)

// forgetName clears the name a member event of user, sent at ts, gave the
// user's events, now that it is redacted: the state in force for them is
// that member event, which no longer names anyone. A later member event
// sent at the same millisecond is passed over, so in that tie the names
// after it are cleared too: better to show a user ID than a withdrawn name.
// The search index holds user IDs, not names, so no change is fed.
func (w *writer) forgetName(ctx context.Context, room id.RoomID, user id.UserID, ts int64) error {
	until := int64(1 << 62)
	err := w.tx.QueryRowContext(ctx, nextMemberSQL, string(room), string(user), ts).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("next member event of %s in %s: %w", user, room, err)
	}
	if _, err := w.tx.ExecContext(ctx, forgetNameSQL, string(user), string(room), ts, until); err != nil {
		return fmt.Errorf("forget the name of %s in %s: %w", user, room, err)
	}
	return nil
}
