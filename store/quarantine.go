package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"maunium.net/go/mautrix/id"
	moderncsqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mxarchive/mxarchive/event"
)

// Source says where a batch of events came from. The quarantine records
// it, so the operator knows which path met a refused event.
type Source string

// The paths events arrive by.
const (
	SourceTransaction Source = "txn"      // an appservice transaction
	SourceSync        Source = "sync"     // the /sync long-poll
	SourceSweep       Source = "sweep"    // a forward /messages sweep
	SourceImport      Source = "import"   // archiver import
	SourceBackfill    Source = "backfill" // a room's history read backwards
	SourceState       Source = "state"    // a room's state read on joining
	SourceOther       Source = "other"
)

const (
	quarantineSQL = `INSERT INTO quarantine (event_id, room_id, source, error, raw, first_at, last_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6)
		ON CONFLICT (event_id) DO UPDATE SET source = excluded.source, error = excluded.error,
		raw = excluded.raw, last_at = excluded.last_at, attempts = quarantine.attempts + 1`
	listQuarantineSQL = `SELECT event_id, room_id, source, error, raw, first_at, last_at, attempts
		FROM quarantine ORDER BY last_at DESC, event_id LIMIT $1`
)

// QuarantinedEvent is an event the database refused to store, kept aside
// for the operator and never shown.
type QuarantinedEvent struct {
	EventID id.EventID
	RoomID  id.RoomID
	Source  Source // the last path that brought it
	Error   string // the database's refusal, the last time
	// Raw is the event's JSON as received ("" if even that was refused).
	Raw      json.RawMessage
	FirstAt  time.Time
	LastAt   time.Time
	Attempts int // times it was refused
}

// Quarantined lists the quarantined events, the most recently refused
// first, at most limit of them.
func (s *Store) Quarantined(ctx context.Context, limit int) ([]QuarantinedEvent, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, listQuarantineSQL, limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []QuarantinedEvent
	for rows.Next() {
		var q QuarantinedEvent
		var evID, room, src, raw string
		var first, last int64
		if err := rows.Scan(&evID, &room, &src, &q.Error, &raw, &first, &last, &q.Attempts); err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		q.EventID, q.RoomID, q.Source = id.EventID(evID), id.RoomID(room), Source(src)
		if raw != "" {
			q.Raw = json.RawMessage(raw)
		}
		q.FirstAt, q.LastAt = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// refused reports whether err is the database refusing the data it was
// given (a value it cannot hold, a constraint, a limit), which retrying
// the same data can never fix. Anything else, above all a database that
// cannot be reached or a deadline, is not: those batches must fail whole
// and be retried, never quarantined.
func refused(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if len(pg.Code) < 2 {
			return false
		}
		// 22: data exception (invalid byte sequence, value out of
		// range); 23: integrity constraint; 54: program limit (an index
		// row too large).
		switch pg.Code[:2] {
		case "22", "23", "54":
			return true
		}
		return false
	}
	var lite *moderncsqlite.Error
	if errors.As(err, &lite) {
		switch lite.Code() & 0xff { // the primary code of an extended one
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_MISMATCH:
			return true
		}
	}
	return false
}

// putIsolating writes evs in one transaction and, when the database
// refuses that, each half the same way, down to single events: an event
// refused on its own is quarantined. With k offenders among n events this
// costs about 2k·log2(n) transactions, not n.
func (s *Store) putIsolating(ctx context.Context, src Source, evs []Event) (PutResult, error) {
	res, err := s.putBatch(ctx, "", 0, evs)
	if err == nil || !refused(err) {
		return res, err
	}
	return s.isolate(ctx, src, evs, err)
}

// isolate handles a batch the database refused (with err).
func (s *Store) isolate(ctx context.Context, src Source, evs []Event, err error) (PutResult, error) {
	if len(evs) == 1 {
		if qerr := s.quarantine(ctx, src, &evs[0], err); qerr != nil {
			return PutResult{}, qerr
		}
		return PutResult{Quarantined: []id.EventID{evs[0].ID}}, nil
	}
	var res PutResult
	mid := len(evs) / 2
	for _, part := range [][]Event{evs[:mid], evs[mid:]} {
		r, err := s.putIsolating(ctx, src, part)
		if err != nil {
			return PutResult{}, err
		}
		res.Add(r)
	}
	return res, nil
}

// quarantine keeps an event the database refused, with the refusal.
func (s *Store) quarantine(ctx context.Context, src Source, ev *Event, cause error) error {
	s.log.Error("the database refused an event; it is quarantined and the rest of its batch is stored",
		"event_id", ev.ID, "room_id", ev.RoomID, "source", src, "err", cause)
	write := func(raw string) error {
		return s.inWrite(ctx, func(w *writer) error {
			_, err := w.tx.ExecContext(ctx, quarantineSQL, string(ev.ID), string(ev.RoomID), string(src),
				cause.Error(), raw, w.now)
			return err
		})
	}
	err := write(string(ev.Raw))
	if err != nil && refused(err) {
		// The event's JSON itself is what the database will not hold:
		// keep the record of it without it.
		err = write("")
	}
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", ev.ID, err)
	}
	return nil
}

// dropQuarantined deletes the quarantined events for which gone is true,
// and returns how many it deleted: what an erasure, a purge or retention
// deletes from the archive leaves the quarantine too, whose JSON is the
// event as received (`archiver quarantine --json` printed an erased
// user's words, and its re-import brought them back). The quarantine holds
// only events the database refused, so it is read whole; an event whose
// JSON cannot be read is kept.
func (w *writer) dropQuarantined(ctx context.Context, gone func(room id.RoomID, ev *event.Event) bool) (int64, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT event_id, room_id, raw FROM quarantine`)
	if err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	var drop []string
	for rows.Next() {
		var evID, room, raw string
		if err := rows.Scan(&evID, &room, &raw); err != nil {
			rows.Close()
			return 0, fmt.Errorf("quarantine: %w", err)
		}
		if ev, err := event.Parse([]byte(raw)); err == nil && gone(id.RoomID(room), ev) {
			drop = append(drop, evID)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	for _, evID := range drop {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM quarantine WHERE event_id = $1`, evID); err != nil {
			return 0, fmt.Errorf("quarantine: %w", err)
		}
	}
	return int64(len(drop)), nil
}
