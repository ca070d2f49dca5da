package store

import (
	"context"
	"fmt"

	"maunium.net/go/mautrix/id"
)

const (
	// unnamedSendersSQL pages through the senders with an unnamed event,
	// in user ID order along events_sender, leaving out opted-out (and
	// erased) users: erasure cleared their names on purpose, and screening
	// hides an opted-out user's names anyway.
	unnamedSendersSQL = `SELECT DISTINCT sender FROM events
		WHERE sender > $1 AND sender_name = ''
		AND NOT EXISTS (SELECT 1 FROM optouts WHERE user_id = events.sender)
		ORDER BY sender LIMIT $2`
	// unnamedEventsSQL is one batch of a sender's unnamed events, checked
	// again in the write transaction: an opt-out or erasure committed since
	// the senders were listed wins.
	unnamedEventsSQL = `SELECT nid, room_id, event_id FROM events
		WHERE sender = $1 AND sender_name = ''
		AND NOT EXISTS (SELECT 1 FROM optouts WHERE user_id = $1)
		ORDER BY nid LIMIT $2`
)

// sendersPerPage bounds one page of unnamedSendersSQL.
const sendersPerPage = 500

// NamePuppets gives the archived events of the users nick names (an IRC
// bridge's puppets) that carry no sender name the user's nick: the
// archiver records new events of a puppet without a display name so, and
// this brings the events stored before the bridge was configured in line.
// A name the user set stays; so does what erasure cleared, and an
// opted-out user's events are left alone. An event whose name a redacted
// member event took back gets the nick too, as ingest gives it to the
// user's later events: it comes from the user ID, which a page shows in
// place of a missing name anyway, not from the withdrawn member event.
//
// It writes at most batch events per transaction, each renamed event with
// a ChangeRenamed change, so every derived copy that shows names hears of
// it, and calls progress (if not nil) with the running total after each.
// Run again, it finds nothing to do and writes nothing. It returns how
// many events it named.
func (s *Store) NamePuppets(ctx context.Context, nick func(id.UserID) (string, bool), batch int, progress func(done int)) (int, error) {
	if batch <= 0 {
		batch = 1000
	}
	var puppets []id.UserID
	for after := ""; ; {
		page, err := s.unnamedSenders(ctx, after)
		if err != nil {
			return 0, err
		}
		for _, u := range page {
			if _, ok := nick(id.UserID(u)); ok {
				puppets = append(puppets, id.UserID(u))
			}
		}
		if len(page) < sendersPerPage {
			break
		}
		after = page[len(page)-1]
	}
	done := 0
	for _, u := range puppets {
		name, _ := nick(u)
		for {
			n, err := s.namePuppetBatch(ctx, u, name, batch)
			if err != nil {
				return done, fmt.Errorf("name the events of %s: %w", u, err)
			}
			done += n
			if n > 0 && progress != nil {
				progress(done)
			}
			if n < batch {
				break
			}
		}
	}
	return done, nil
}

func (s *Store) unnamedSenders(ctx context.Context, after string) ([]string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	page, err := scanStrings(s.db.QueryContext(ctx, unnamedSendersSQL, after, sendersPerPage))
	if err != nil {
		return nil, fmt.Errorf("senders without a name after %q: %w", after, err)
	}
	return page, nil
}

// namePuppetBatch names one batch of user's unnamed events in one
// transaction and returns how many it named.
func (s *Store) namePuppetBatch(ctx context.Context, user id.UserID, name string, batch int) (int, error) {
	n := 0
	err := s.inWrite(ctx, func(w *writer) error {
		type ev struct {
			nid         int64
			room, event string
		}
		var evs []ev
		rows, err := w.tx.QueryContext(ctx, unnamedEventsSQL, string(user), batch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e ev
			if err := rows.Scan(&e.nid, &e.room, &e.event); err != nil {
				return err
			}
			evs = append(evs, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		for len(evs) > 0 {
			part := evs[:min(len(evs), maxIDsPerQuery)]
			evs = evs[len(part):]
			args := []any{name}
			ph := ""
			for i, e := range part {
				if i > 0 {
					ph += ","
				}
				ph += fmt.Sprintf("$%d", i+2)
				args = append(args, e.nid)
			}
			if _, err := w.tx.ExecContext(ctx, `UPDATE events SET sender_name = $1 WHERE nid IN (`+ph+`)`, args...); err != nil {
				return err
			}
			for _, e := range part {
				if err := w.feed(ctx, ChangeRenamed, id.RoomID(e.room), id.EventID(e.event)); err != nil {
					return err
				}
			}
			n += len(part)
		}
		return nil
	})
	return n, err
}
