package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

const (
	insertRoomSQL           = `INSERT INTO rooms (room_id, history_visibility) VALUES ($1, '') ON CONFLICT (room_id) DO NOTHING`
	pushedVisibilitySQL     = `INSERT INTO pushed_visibility (event_id, room_id) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING`
	setArrivedVisibilitySQL = `UPDATE rooms SET arrived_visibility = $2, arrived_at = $3, arrived_ts = $4 WHERE room_id = $1`
	// insertEventsPostgresSQL writes a batch's events (the rows as one
	// array a column; unnest's rows come in the arrays' order, and are
	// inserted, and numbered, in it). As on SQLite, events has no unique
	// index on the ID to conflict on (022_event_id_key.sql): the batch
	// leaves out what its probe found stored and its own repeats
	// (insertAllPostgres), and the rows are counted, not returned. Rows
	// of VALUES, 500 a statement, were 7,000 parameters for
	// pgx to encode one by one and for the server to bind, plan and set up
	// as expressions on every execution. archiver import of the 1M
	// replay, seven alternated pairs: the archiver's CPU 23-30 → 14-23 s
	// in every pair; the wall time and the server's CPU moved with the
	// host more than between the builds (72.9-78.5 → 53.6-70.3 s in the
	// first three, the other way in two on a slower host);
	// BenchmarkImport/postgres 5.8-9.0k → 7.2-12.1k events/s.
	insertEventsPostgresSQL = `INSERT INTO events
		(event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
		 rel_type, rel_target, rel_key, reply_to, raw, received_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::boolean[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[])`
	// insertEventsSQLiteText is insertEventsPostgresSQL as SQLite writes
	// it, in rows of VALUES (rowsInsert). The
	// ID's hash (eh) and events_meeting's condition (meeting) are
	// columns written with the row (idh.go). OR IGNORE: a row SQLite
	// refused (a NULL where none may be, which the writer never sends)
	// would abort a plain INSERT midway, so SQLite kept a statement
	// journal for every statement in case; one it skips instead is missed
	// in the count of rows written, and fails the batch (insertAll,
	// TestSkippedRowFailsTheBatch). The rows are counted, not returned
	// (RETURNING event_id): SQLite keeps a statement's returned rows in a
	// table of its own until it is stepped through, and the writer then
	// read each ID back: reading them was 3.3% of an import's CPU
	// (perf), besides SQLite's own keeping of them. archiver import of
	// the 300k IRC replay, six alternated pairs: 12.4 → 11.3 s of CPU,
	// 10.8 → 9.9 s wall; perf samples in insertAll per sample of the
	// parser (whose work is the same in both builds), four pairs: 6.5-7.2
	// → 6.0-6.4.
	insertEventsSQLiteText = `INSERT OR IGNORE INTO events
		(event_id, room_id, type, state_key, sender, sender_name, origin_ts, public,
		 rel_type, rel_target, rel_key, reply_to, raw, received_at, eh, meeting)
		VALUES %s`
	insertChangesSQL = `INSERT INTO changes (kind, room_id, event_id, at, user_id) VALUES %s`
	// insertChangesPostgresSQL is insertChangesSQL on PostgreSQL, its rows
	// as arrays as insertEventsPostgresSQL's: the feed's positions follow
	// the arrays' order.
	insertChangesPostgresSQL = `INSERT INTO changes (kind, room_id, event_id, at, user_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])`
	insertRedactionSQL = `INSERT INTO redactions
		(redaction_id, target_id, room_id, sender, reason, origin_ts, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (redaction_id) DO NOTHING`
	// probeSQL asks what a batch's event IDs (%[1]s: their rows, a column
	// value) are to the archive: deleted on purpose (a tombstone,
	// probeTombstoned), waited for by an unapplied redaction
	// (probePending), named by a stored event's relation (%[5]s,
	// probeNamedSQL; probeNamed), and stored already (%[2]s,
	// probeStoredSQL; probeStored).
	// Only the IDs that are any of these come back, with the sum of
	// their kinds. One walk of the list with an index probe for each kind,
	// not a query with a list for each (writer.probe). A kind whose table
	// is empty is not probed for each ID: its uncorrelated EXISTS is
	// evaluated once a statement, and AND does not go on past it; on
	// SQLite (%[3]s) so are the relations, by events_rel, the index of
	// events with one (TestProbeGuardsReadTheirIndex; PostgreSQL's
	// planner might scan the table for it). An IRC archive has no
	// tombstones, redactions or relations: the probe of its import's
	// batches took 11.2-12.7% of the import's CPU samples before, 8.2
	// after (perf, archiver import of the 300k IRC replay). The subquery
	// is fenced (%[4]s: an OFFSET, which neither database flattens):
	// flattened, the sum of kinds was written out for the WHERE and again
	// for the row, and every ID it returned was looked up twice in every
	// table (TestProbeAsksOnce; a re-import of the 1M replay, all of it
	// stored already: SQLite 11.5-12.4 -> 8.2-8.7 s, PostgreSQL
	// 12.3-13.9 -> 10.3).
	probeSQL = `SELECT value, kinds FROM (SELECT ids.value AS value,
		  CASE WHEN EXISTS (SELECT 1 FROM tombstones) AND EXISTS (SELECT 1 FROM tombstones t WHERE t.event_id = ids.value) THEN 1 ELSE 0 END
		+ CASE WHEN EXISTS (SELECT 1 FROM redactions) AND EXISTS (SELECT 1 FROM redactions r WHERE r.target_id = ids.value AND r.applied_at IS NULL AND NOT r.rejected) THEN 2 ELSE 0 END
		+ CASE WHEN %[3]s %[5]s THEN 4 ELSE 0 END
		%[2]s AS kinds
		FROM %[1]s %[4]s) probed WHERE kinds > 0`
	// relationsGuardSQL says the archive holds a relation, read from
	// events_rel: on SQLite it guards probeSQL's relations' probe and
	// the probes of a list's targets (relationTargetsSQL: Related,
	// LatestEdits, ThreadRoots). Like every probe of events_rel it says
	// NOT redacted, the partial index's condition since migration 026,
	// without which neither database would use it.
	relationsGuardSQL = `EXISTS (SELECT 1 FROM events g WHERE g.rel_target <> '' AND NOT g.redacted) AND`
	// probeNamedSQL is probeSQL's probeNamed: some event's relation names
	// the ID.
	probeNamedSQL = `EXISTS (SELECT 1 FROM events e WHERE e.rel_target = ids.value AND e.rel_target <> '' AND NOT e.redacted)`
	// postgresProbeNamedSQL is probeNamedSQL as PostgreSQL runs it: the
	// first relation naming the ID in events_rel's order (its columns,
	// migration 025), which only a probe of events_rel gives at once.
	// Asked as EXISTS, whose ORDER BY and LIMIT the planner drops, it was
	// planned from the statistics of rel_target: once they said the
	// archive's relations name a few events (a hostile room's tens of
	// thousands of reactions to four messages), a scan of the events
	// table for each ID of a batch, expecting a match within a few rows,
	// where a new event's ID matches none; an import of 80k such events
	// took minutes, then failed (TestProbeOfSkewedRelationsReadsItsIndex).
	postgresProbeNamedSQL = `(SELECT 1 FROM events e WHERE e.rel_target = ids.value AND e.rel_target <> '' AND NOT e.redacted
			ORDER BY e.rel_target, e.room_id, e.rel_type, e.nid LIMIT 1) IS NOT NULL`
	// probeStoredSQL is probeSQL's probeStored.
	probeStoredSQL       = `+ CASE WHEN EXISTS (SELECT 1 FROM events e WHERE idh(e.event_id) = idh(ids.value) AND e.event_id = ids.value) THEN 8 ELSE 0 END`
	markRelatedSQL       = `UPDATE events SET related = TRUE WHERE idh(event_id) IN (%[2]s) AND event_id IN (%[1]s) AND NOT related RETURNING event_id`
	pendingRedactionsSQL = `SELECT redaction_id, target_id, room_id, sender, reason, origin_ts
		FROM redactions WHERE target_id = $1 AND applied_at IS NULL AND NOT rejected`
	redactionTargetSQL = `SELECT nid, room_id, type, sender, public, rel_type, rel_target, raw, redacted, state_key, origin_ts, received_at
		FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`
	stateAtSQL = `SELECT raw, sender FROM events
		WHERE room_id = $1 AND type = $2 AND state_key = $3 AND origin_ts <= $4
		ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	markRedactedSQL = `UPDATE events SET raw = $1, redacted = TRUE WHERE nid = $2`
	// markRedactedSQLite is markRedactedSQL on SQLite, where the row's
	// meeting column follows its new JSON ($3: whether that mentions
	// "startmeeting"; meeting already holds the type's half).
	markRedactedSQLite = `UPDATE events SET raw = $1, redacted = TRUE, meeting = meeting AND $3 WHERE nid = $2`
	// rejudgeTargetsSQL is the stored targets of a room's unapplied
	// redactions (rejudgeRedactions).
	rejudgeTargetsSQL = `SELECT DISTINCT r.target_id FROM redactions r
		JOIN events e ON idh(e.event_id) = idh(r.target_id) AND e.event_id = r.target_id
		WHERE r.room_id = $1 AND r.applied_at IS NULL LIMIT $2`
	redactedByIDSQL = `SELECT redacted FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`
	nidByIDSQL      = `SELECT nid FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`
	editsOfSQL      = `SELECT nid, raw FROM events WHERE rel_target = $1 AND rel_target <> '' AND rel_type = '` + event.RelReplace + `' AND NOT redacted`
	markAppliedSQL  = `UPDATE redactions SET applied_at = $1 WHERE redaction_id = $2`
	markRejectedSQL = `UPDATE redactions SET rejected = TRUE WHERE redaction_id = $1`
	roomVersionSQL  = `SELECT room_version, creator FROM rooms WHERE room_id = $1`
	recordTxnSQL    = `INSERT INTO appservice_txns (txn_id, events, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (txn_id) DO UPDATE SET deliveries = appservice_txns.deliveries + 1,
		events = CASE WHEN excluded.events > appservice_txns.events THEN excluded.events ELSE appservice_txns.events END`
	countMessageSQL = `UPDATE rooms SET message_count = message_count + $2,
		first_ts = CASE WHEN first_ts = 0 OR $3 < first_ts THEN $3 ELSE first_ts END,
		last_ts = CASE WHEN $4 > last_ts THEN $4 ELSE last_ts END
		WHERE room_id = $1`
	// uncountMessageSQL takes a redacted message of sender $2 out of its
	// room's count, which an opted-out sender's are not in.
	uncountMessageSQL = `UPDATE rooms SET message_count = message_count - 1 WHERE room_id = $1 AND message_count > 0
		AND NOT EXISTS (SELECT 1 FROM optouts WHERE user_id = $2)`
	// optedOutAmongSQL (writer.among) finds which of a batch's senders
	// have opted out.
	optedOutAmongSQL = `SELECT user_id FROM optouts WHERE user_id IN (%[1]s)`
)

// arrivedVisibilitySQL is the room's visibility in its order (migration
// 033), no row where none is known: none came so, or a visibility
// event stored in a later write (an import's, a sweep's) is stamped
// after the arrived one's time, and not ahead of its own arrival
// (sentInTimeSQL): a later change, which timestamps judge. One stored
// with it, or before, is not: a "world_readable" stamped a minute
// after the "joined" it precedes in a transaction, or the room's older
// one before a "joined" stamped years back.
var arrivedVisibilitySQL = `SELECT r.arrived_visibility FROM rooms r WHERE r.room_id = $1 AND r.arrived_visibility <> ''
		AND NOT EXISTS (SELECT 1 FROM events e WHERE e.room_id = r.room_id AND e.type = 'm.room.history_visibility'
			AND e.state_key = '' AND e.received_at > r.arrived_at AND e.origin_ts > r.arrived_ts
			AND ` + sentInTimeOf("e.") + `)`

// rowsInsert is a multi-row INSERT (insertEventsSQLiteText, insertChangesSQL) as
// SQLite runs it: statements of 64, 16, 4 and 1 rows of "?" parameters,
// the largest that fits the rows left, each prepared once per connection
// (prepareWrites, writer.stmt). Multi-row statements of numbered parameters, compiled
// for each batch, once imported at 5.7k events/s against 45k for a
// prepared statement a row; but a statement a row spends most of the
// write in the statement's own round (bind, step, reset), and for a
// numbered parameter modernc asks SQLite its name and makes a Go string
// of it on every execution. BenchmarkImport/sqlite: a statement a row
// 20-24k events/s, these 27-30k.
type rowsInsert struct {
	width int
	texts []string // texts[i] writes sqliteRowsPerInsert[i] rows
}

// sqliteRowsPerInsert are the rows rowsInsert's statements write, largest
// first; the last is 1.
var sqliteRowsPerInsert = []int{64, 16, 4, 1}

func newRowsInsert(query string, width int) rowsInsert {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	ins := rowsInsert{width: width}
	for _, n := range sqliteRowsPerInsert {
		ins.texts = append(ins.texts, fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")))
	}
	return ins
}

var (
	insertEventsSQLite  = newRowsInsert(insertEventsSQLiteText, 16)
	insertChangesSQLite = newRowsInsert(insertChangesSQL, changeWidth)
)

// insertRowsSQLite writes args (ins.width values a row) with ins's
// statements and says how many rows they wrote (SQLite's changes(): a row
// OR IGNORE skipped is not among them).
//
// The statements run under ctx's values but not its end (run), which is
// checked between them: for each execution under a context that can end,
// modernc starts a goroutine to interrupt SQLite when it does and sets
// SQLite's progress handler, and an import runs these statements of 64
// rows by the thousand, about a millisecond each. Of an import's CPU
// samples (the 1M IRC replay, perf), 2.5% were its writer's doing so
// (interruptOnDone, and waking the other core for the goroutine) and
// 2.9% the other core's spinning for work. archiver import of the 300k
// replay, eight alternated pairs: CPU 11.12 → 10.12 s (less in each
// pair), wall 9.65 → 9.24 s. Once ctx ends, the transaction, begun under
// ctx, is rolled back as soon as the statement running finishes
// (database/sql), and the batch's error is ctx's, whether its next
// statement found it ended or found the transaction closed
// (TestInsertStopsWithItsContext).
func (w *writer) insertRowsSQLite(ctx context.Context, ins rowsInsert, args []any) (int64, error) {
	var written int64
	run := context.WithoutCancel(ctx)
	for len(args) > 0 {
		if err := ctx.Err(); err != nil {
			return written, err
		}
		k := 0
		for len(args) < sqliteRowsPerInsert[k]*ins.width {
			k++
		}
		n := sqliteRowsPerInsert[k] * ins.width
		st, err := w.stmt(ctx, ins.texts[k])
		if err != nil {
			return written, endedOr(ctx, err)
		}
		if w.s.beforeInsertStatement != nil {
			w.s.beforeInsertStatement()
		}
		res, err := st.ExecContext(run, dbArgs(args[:n])...)
		if err != nil {
			return written, endedOr(ctx, err)
		}
		rows, err := res.RowsAffected()
		if err != nil {
			return written, err
		}
		written += rows
		args = args[n:]
	}
	return written, nil
}

// endedOr is ctx's error if ctx has ended, else err: once a transaction's
// context ends, database/sql rolls it back on a goroutine of its own, and
// a statement run meanwhile under another context fails as closed.
func endedOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// forRows calls each for every row of a query's result (rows, err), then
// closes it.
func forRows(rows *sql.Rows, err error, each func(*sql.Rows) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// exec runs query, a statement every batch (or every room of one) runs:
// on SQLite the one prepareWrites kept, its string arguments through
// dbText as safeTx's; elsewhere as safeTx runs it (pgx keeps its own
// statements, and preparing for the transaction would cost a round trip).
func (w *writer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := w.s.preparedOnly(query); st != nil {
		return w.tx.StmtContext(ctx, st).ExecContext(ctx, dbArgs(args)...)
	}
	return w.tx.ExecContext(ctx, query, args...)
}

// writeTexts are the statements writer.stmt keeps prepared on SQLite.
func writeTexts() []string {
	qs := []string{pendingRedactionsSQL, recordTxnSQL, insertRoomSQL, countMessageSQL, sqliteProbeSQL, sqliteAmong(markRelatedSQL), sqliteAmong(optedOutAmongSQL)}
	qs = append(qs, insertEventsSQLite.texts...)
	return append(qs, insertChangesSQLite.texts...)
}

// stmt is query as a statement of w's transaction: on SQLite, one of
// writeTexts is prepared once per connection and kept (prepareWrites;
// the transaction prepares it on its own connection the first time);
// anything else is prepared now, for this transaction.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := w.s.preparedOnly(query); st != nil {
		return w.tx.StmtContext(ctx, st), nil
	}
	return w.tx.PrepareContext(ctx, w.s.dbForm(query))
}

// optedOutSenders returns which of the batch's messages' senders have
// opted out, in one statement: their messages are not counted.
func (w *writer) optedOutSenders(ctx context.Context) (map[string]bool, error) {
	var senders []string
	for _, d := range w.rooms {
		for sender := range d.senders {
			senders = append(senders, sender)
		}
		for sender := range d.times {
			senders = append(senders, sender)
		}
	}
	if len(senders) == 0 {
		return nil, nil
	}
	slices.Sort(senders)
	out, err := w.among(ctx, optedOutAmongSQL, slices.Compact(senders))
	if err != nil {
		return nil, fmt.Errorf("opted-out senders: %w", err)
	}
	set := make(map[string]bool, len(out))
	for _, u := range out {
		set[u] = true
	}
	return set, nil
}

// optedOut reports whether user has opted out (or been opted out).
func (w *writer) optedOut(ctx context.Context, user id.UserID) (bool, error) {
	var n int
	if err := w.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM optouts WHERE user_id = $1`, string(user)).Scan(&n); err != nil {
		return false, fmt.Errorf("opt-out of %s: %w", user, err)
	}
	return n > 0, nil
}

// recount moves the message counts of the rooms where user has messages
// that would be counted (counted, but for an opt-out) if the statement
// just run opted them out (down by their number) or back in (up); was
// says whether they were opted out before it. The counts are of what
// the rooms' pages show, and no other write changes whether a message
// is counted for an opt-out.
func (w *writer) recount(ctx context.Context, user id.UserID, was bool) error {
	now, err := w.optedOut(ctx, user)
	if err != nil || now == was {
		return err
	}
	// Each room where they have a message or a poll shown, with the
	// number of their messages (a poll is not counted) and the first and
	// last (sent in time) of both: opted out, the room's times are taken
	// anew without them (retime); back in, moved out to theirs.
	rows, err := w.tx.QueryContext(ctx, `SELECT room_id, COUNT(CASE WHEN `+timelineMessageSQL+` THEN 1 END),
		MIN(origin_ts), COALESCE(MAX(CASE WHEN `+sentInTimeSQL+` THEN origin_ts END), 0) FROM events
		WHERE sender = $1 AND public AND NOT redacted AND `+readableSQL+` GROUP BY room_id`, string(user))
	if err != nil {
		return fmt.Errorf("count messages of %s: %w", user, err)
	}
	type roomCount struct{ n, first, last int64 }
	counts := map[string]roomCount{}
	for rows.Next() {
		var room string
		var c roomCount
		if err := rows.Scan(&room, &c.n, &c.first, &c.last); err != nil {
			rows.Close()
			return err
		}
		counts[room] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for room, c := range counts {
		if now {
			if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET message_count = CASE WHEN message_count > $2 THEN message_count - $2 ELSE 0 END
				WHERE room_id = $1`, room, c.n); err != nil {
				return fmt.Errorf("recount room %s: %w", room, err)
			}
			if err := w.retime(ctx, room); err != nil {
				return err
			}
			continue
		}
		if _, err := w.tx.ExecContext(ctx, countMessageSQL, room, c.n, c.first, c.last); err != nil {
			return fmt.Errorf("recount room %s: %w", room, err)
		}
	}
	return nil
}

// retimeRoomSQL sets the first and last times of the room %[1]s names
// anew, from the messages and polls its pages show (shownMessageCond,
// shownPollCond: not redacted, their sender not opted out), the last of
// those sent in time (sentInTimeSQL): four seeks on events_shown and
// events_polls, the first from %[3]s up and the last from %[2]s down.
// The writes move the times out as they add what is shown
// (countMessageSQL), so the room's own times bound them (retime); the
// migration's bound is now and sentAheadMS (retimeRooms): no event
// stamped later was sent in time. Each seek passes over what is not
// shown between its bound and what it finds, one index entry each (an
// opted-out member's messages, history read back stamped ahead): it runs
// when an opt-out or a deletion takes away what a time may be of, not
// for each write, and a redaction moves no time (chosen: an attacker
// who redacts their own last message each time would have the seek
// pass over all that lies below it).
const retimeRoomSQL = `UPDATE rooms SET
	first_ts = (SELECT COALESCE(MIN(t), 0) FROM (
		SELECT (SELECT origin_ts FROM events` + shownIndexed + ` WHERE room_id = %[1]s AND origin_ts >= %[3]s AND ` + shownMessageCond + `
			ORDER BY origin_ts LIMIT 1) AS t
		UNION ALL SELECT (SELECT origin_ts FROM events` + pollsIndexed + ` WHERE room_id = %[1]s AND origin_ts >= %[3]s AND ` + shownPollCond + `
			ORDER BY origin_ts LIMIT 1) AS t) firsts),
	last_ts = (SELECT COALESCE(MAX(t), 0) FROM (
		SELECT (SELECT origin_ts FROM events` + shownIndexed + ` WHERE room_id = %[1]s AND origin_ts <= %[2]s AND ` + shownMessageCond + ` AND ` + sentInTimeSQL + `
			ORDER BY origin_ts DESC LIMIT 1) AS t
		UNION ALL SELECT (SELECT origin_ts FROM events` + pollsIndexed + ` WHERE room_id = %[1]s AND origin_ts <= %[2]s AND ` + shownPollCond + ` AND ` + sentInTimeSQL + `
			ORDER BY origin_ts DESC LIMIT 1) AS t) lasts)`

// retime takes room's first and last times anew (retimeRoomSQL) within
// its times now, after a message or poll that may have set one stops
// being shown: deleted, or its sender opted out.
func (w *writer) retime(ctx context.Context, room string) error {
	if _, err := w.tx.ExecContext(ctx, w.s.dbForm(fmt.Sprintf(retimeRoomSQL, "$1", "rooms.last_ts", "rooms.first_ts")+` WHERE room_id = $1`), room); err != nil {
		return fmt.Errorf("room %s's times: %w", room, err)
	}
	return nil
}

// retimeRooms takes every room's times anew (migration 038): a room's
// times spanned an opted-out member's messages and kept those of
// messages since redacted or deleted.
func retimeRooms(ctx context.Context, tx *sql.Tx, d dialect) error {
	// From 1: a message stamped 0, which the writes now store at 1
	// (clampEpoch), would be a first time of "none yet" again.
	query := fmt.Sprintf(retimeRoomSQL, "rooms.room_id", "$1", "1") + ` WHERE NOT purged`
	if d == sqlite {
		query = sqliteForm(query)
	}
	_, err := tx.ExecContext(ctx, query, time.Now().UnixMilli()+sentAheadMS)
	return err
}

// recountRooms counts each room's messages anew, as the writes keep
// them since migration 034 (the messages shown, shownMessageCond).
func recountRooms(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `UPDATE rooms SET message_count = (SELECT COUNT(*) FROM events
		WHERE events.room_id = rooms.room_id AND `+shownMessageCond+`)`)
	return err
}

// roomDelta is what one batch changed in a room's summary.
type roomDelta struct {
	state bool
	// listing: an archive controls event was stored or redacted
	// (ChangeListed); controls: the IDs of those stored, when none was
	// redacted (listingChanged).
	listing  bool
	redacted bool
	controls []string
	// senders: how many messages each sender has in the batch; a room's
	// message count is of those whose sender has not opted out (finish).
	senders map[string]int64
	// times: the first and last (sent in time, 0 if none) of each
	// sender's messages and polls in the batch; the room's times are
	// moved out to those of the senders who have not opted out (finish).
	times map[string][2]int64
	// arrived, arrivedTS, arrivedOrder: the history visibility of the
	// batch's latest Arrived event stored, its time and its order in the
	// batch; arrivedFirst: that was its first push (pushed_visibility).
	arrived      string
	arrivedTS    int64
	arrivedOrder int
	arrivedFirst bool
}

// isControls reports whether a state event of type typ with the state key
// key is one of the archive controls that say whether a room is listed.
func isControls(typ, key string) bool {
	return key == "" && (typ == event.TypeArchiveControls || typ == event.TypeArchiveControlsUnstable)
}

// PutEvents stores a batch of events in one transaction, idempotently on
// event ID: an event already in the archive is left as it is. Redactions in
// the batch are recorded and applied to their targets when valid; a stored
// event that an earlier redaction was waiting for is redacted as it lands.
// Every change is appended to the change feed in the same transaction.
//
// One event cannot fail the batch (ARCHITECTURE.md rule 7): when the
// database refuses the batch's data, the batch is retried in parts, each
// event it refuses on its own is quarantined (PutResult.Quarantined), and
// the rest is stored. An error means nothing was refused but the write
// failed (the database is down, a deadline): retry the batch.
func (s *Store) PutEvents(ctx context.Context, evs []Event) (PutResult, error) {
	return s.put(ctx, SourceOther, "", evs)
}

// PutEventsFrom is PutEvents naming where the events came from, for the
// quarantine's records.
func (s *Store) PutEventsFrom(ctx context.Context, src Source, evs []Event) (PutResult, error) {
	return s.put(ctx, src, "", evs)
}

// PutTransaction is PutEvents for an appservice transaction: the events and
// the transaction's record commit together, so a 200 sent after it returns
// means everything is stored (ARCHITECTURE.md rule 1). A transaction seen
// before is processed again, event by event: homeservers have been seen to
// resend a transaction ID with more events than the first time. When an
// event is refused, the rest commits in parts and the record after them.
func (s *Store) PutTransaction(ctx context.Context, txnID string, evs []Event) (PutResult, error) {
	return s.put(ctx, SourceTransaction, txnID, evs)
}

func (s *Store) put(ctx context.Context, src Source, txnID string, evs []Event) (PutResult, error) {
	if len(evs) == 0 && txnID == "" {
		return PutResult{}, nil
	}
	clampEpoch(evs)
	if src == SourceTransaction || src == SourceSync {
		clampAhead(evs, s.now().UnixMilli())
	} else {
		clampPastDays(evs, s.now().UnixMilli())
	}
	res, err := s.putBatch(ctx, txnID, len(evs), evs)
	if err == nil {
		return res, nil
	}
	if !refused(err) || len(evs) == 0 {
		return PutResult{}, fmt.Errorf("put events: %w", err)
	}
	s.log.Warn("the database refused a batch; writing it in parts to find the events it refuses",
		"source", src, "events", len(evs), "err", err)
	res, err = s.isolate(ctx, src, evs, err)
	if err != nil {
		return PutResult{}, fmt.Errorf("put events: %w", err)
	}
	if txnID != "" {
		// The record is for operators (idempotence is per event): a
		// refused one must not make the homeserver resend for ever.
		if _, err := s.putBatch(ctx, txnID, len(evs), nil); err != nil {
			if !refused(err) {
				return PutResult{}, fmt.Errorf("put events: %w", err)
			}
			s.log.Error("the database refused the transaction's record; its events are stored", "txn_id", txnID, "err", err)
		}
	}
	return res, nil
}

// putBatch writes evs in one transaction, with the record of transaction
// txnID (of total events) if set.
func (s *Store) putBatch(ctx context.Context, txnID string, total int, evs []Event) (PutResult, error) {
	var res PutResult
	err := s.inWrite(ctx, func(w *writer) error {
		keep, err := w.dropWithdrawn(ctx, evs, &res)
		if err != nil {
			return err
		}
		if err := w.insertAll(ctx, keep); err != nil {
			return err
		}
		w.notePending()
		if err := w.markRelated(ctx, keep); err != nil {
			return err
		}
		for i := range keep {
			if err := w.put(ctx, &keep[i], &res); err != nil {
				return fmt.Errorf("put event %s: %w", keep[i].ID, err)
			}
		}
		if err := w.eraseLate(ctx, keep); err != nil {
			return err
		}
		if txnID != "" {
			if _, err := w.exec(ctx, recordTxnSQL, txnID, total, w.now); err != nil {
				return fmt.Errorf("record transaction %s: %w", txnID, err)
			}
		}
		return nil
	})
	if err != nil {
		return PutResult{}, err
	}
	return res, nil
}

// clampEpoch gives each message stamped 0 (1970-01-01T00:00:00.000Z, a
// forged time) the millisecond after: a room's first time of 0 is "none
// yet" (countMessageSQL), so one such message let the next batch set its
// room's first time past every message shown before it, and every later
// retime sought from there (helper-97). Its JSON keeps the time claimed.
func clampEpoch(evs []Event) {
	for i := range evs {
		if e := &evs[i]; !e.IsState() && e.OriginTS == 0 {
			e.OriginTS = 1
		}
	}
}

// LastDayMS is the last millisecond of 9999-12-31, the last day whose date
// the pages write in four digits and read back (web's dateLayout): no
// page links a later day.
const LastDayMS = 253402300799999

// clampPastDays gives each message of history read back stamped after the
// last day a page can show (LastDayMS) the time it is received, as
// clampAhead gives a push's: its day, the room's address when it was the
// room's only message, and the links to them answered 400, and it could
// be read nowhere but its permalink. Its JSON keeps the time claimed.
func clampPastDays(evs []Event, now int64) {
	for i := range evs {
		if e := &evs[i]; !e.IsState() && e.OriginTS > LastDayMS {
			e.OriginTS = now
		}
	}
}

// clampAhead gives each message (every event but state) of a push (an
// appservice transaction, /sync) stamped more than sentAheadMS after now,
// when the archive receives it, the time it is received: a push comes as
// it is sent, no event was sent after it arrived, and a time is its
// server's claim. One message stamped in 2100 otherwise made its room the
// directory's most recently active for good, the last entry of its feed
// and a day of its calendar 74 years on. Its JSON keeps the time claimed.
// History read back (a backfill, a sweep, an import) keeps its claim: it
// was sent some time before it was read, not when, and a moderator's
// redaction of it is judged by that (applyRedaction). State keeps its
// time, which current state passes over (sentInTimeSQL).
func clampAhead(evs []Event, now int64) {
	for i := range evs {
		if e := &evs[i]; !e.IsState() && e.OriginTS > now+sentAheadMS {
			e.OriginTS = now
		}
	}
}

// writer holds one write transaction's prepared statements and state.
type writer struct {
	s       *Store
	tx      safeTx
	now     int64
	pending *sql.Stmt
	rooms   map[id.RoomID]*roomDelta
	// tallied holds the messages (their IDs as stored) this transaction
	// stored and counted in its rooms' senders, which finish adds to
	// their rooms' counts: a redaction of one applied meanwhile takes it
	// out of the tally (applyRedaction).
	tallied map[string]bool
	// untallied holds the messages this transaction stored and redacted
	// before put came to them, which put does not tally.
	untallied map[string]bool
	// inserted holds the events insertAll wrote (not already archived),
	// until put processes them.
	inserted map[id.EventID]bool
	// erased holds the users erased by the operator, as dropWithdrawn
	// read them (eraseLate).
	erased map[string]bool
	// changes are buffered and written together by finish.
	changes []any
	// batchTargets are the events of this transaction a redaction may be
	// waiting for: new events an earlier redaction names (notePending),
	// and targets of redactions in this transaction. Only they are looked
	// up in redactions, so most events need no query at all.
	batchTargets map[id.EventID]bool
	// probed holds what probe found of the batch's event IDs: the kinds
	// (probeTombstoned, probePending, probeNamed) of those that are any.
	probed map[string]int
}

func (s *Store) newWriter(ctx context.Context, tx *sql.Tx) (*writer, error) {
	w := &writer{s: s, tx: safeTx{tx}, now: s.now().UnixMilli(), rooms: map[id.RoomID]*roomDelta{}, batchTargets: map[id.EventID]bool{}}
	var err error
	if w.pending, err = w.stmt(ctx, pendingRedactionsSQL); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.pending} {
		if st != nil {
			st.Close()
		}
	}
}

// feed appends a change to the feed (written by finish, in this order).
func (w *writer) feed(_ context.Context, kind ChangeKind, room id.RoomID, ev id.EventID) error {
	w.changes = append(w.changes, string(kind), string(room), string(ev), w.now, "")
	return nil
}

// feedUser appends a change concerning all of a user's messages.
func (w *writer) feedUser(_ context.Context, user id.UserID) error {
	w.changes = append(w.changes, string(ChangeUser), "", "", w.now, string(user))
	return nil
}

// Rows per INSERT of arrays on PostgreSQL (insertAllPostgres,
// insertChangesPostgres), and at most jsonPerInsert bytes of events' JSON.
const (
	eventsPerInsert  = 2000
	jsonPerInsert    = 4 << 20
	changesPerInsert = 2000
	changeWidth      = 5 // values per change row
)

// insertAll writes the batch's events and remembers which were new, in
// multi-row statements: on PostgreSQL a round trip per event made imports
// and acks slow, and on SQLite a statement per event spent most of the
// write on the statement (rowsInsert).
func (w *writer) insertAll(ctx context.Context, evs []Event) error {
	w.inserted = nil
	// Room for a change each (feed): grown by append, the slice was
	// copied over and over, 7% of an import's allocations.
	w.changes = slices.Grow(w.changes, len(evs)*changeWidth)
	// The IDs, as stored, of the events to insert: what is stored already
	// or earlier in the batch is left out (storedOrSeen). Once every row
	// is written (counted) they are what the batch inserted.
	fresh := make(map[id.EventID]bool, len(evs))
	insert := w.insertAllSQLite
	if w.s.dialect == postgres {
		insert = w.insertAllPostgres
	}
	if err := insert(ctx, evs, fresh); err != nil {
		return err
	}
	w.inserted = fresh
	return nil
}

// insertAllSQLite is insertAll on SQLite, in rows of VALUES
// (insertRowsSQLite).
func (w *writer) insertAllSQLite(ctx context.Context, evs []Event, fresh map[id.EventID]bool) error {
	args := make([]any, 0, len(evs)*insertEventsSQLite.width)
	for i := range evs {
		ev := &evs[i]
		if _, err := w.room(ctx, ev.RoomID); err != nil {
			return err
		}
		stored, skip := w.storedOrSeen(ev.ID, fresh)
		if skip {
			continue
		}
		var stateKey any
		if ev.StateKey != nil {
			stateKey = *ev.StateKey
		}
		args = append(args, stored, string(ev.RoomID), ev.Type, stateKey,
			string(ev.Sender), ev.SenderName, ev.OriginTS, ev.Public,
			ev.Rel.Type, string(ev.Rel.EventID), ev.Rel.Key, string(ev.Rel.ReplyTo),
			string(ev.Raw), w.now, idh(stored), mentionsMeeting(ev.Type, ev.Raw))
	}
	written, err := w.insertRowsSQLite(ctx, insertEventsSQLite, args)
	if err != nil {
		return err
	}
	if rows := len(args) / insertEventsSQLite.width; written != int64(rows) {
		return fmt.Errorf("insert events: %d of %d rows stored", written, rows)
	}
	return nil
}

// insertAllPostgres is insertAll on PostgreSQL: the batch's rows as one
// array a column (insertEventsPostgresSQL), eventsPerInsert rows or
// jsonPerInsert bytes of their JSON a statement, so that a batch of large
// events is not one array of hundreds of megabytes.
func (w *writer) insertAllPostgres(ctx context.Context, evs []Event, fresh map[id.EventID]bool) error {
	keep := make([]Event, 0, len(evs))
	for i := range evs {
		if _, skip := w.storedOrSeen(evs[i].ID, fresh); !skip {
			keep = append(keep, evs[i])
		}
	}
	evs = keep
	for len(evs) > 0 {
		n, size := 1, len(evs[0].Raw)
		for n < len(evs) && n < eventsPerInsert && size+len(evs[n].Raw) <= jsonPerInsert {
			size += len(evs[n].Raw)
			n++
		}
		if err := w.insertEventsPostgres(ctx, evs[:n]); err != nil {
			return err
		}
		evs = evs[n:]
	}
	return nil
}

// insertEventsPostgres writes evs in one statement, its columns as
// pgArrays.
func (w *writer) insertEventsPostgres(ctx context.Context, evs []Event) error {
	n, idBytes, rawBytes := len(evs), 0, 0
	for i := range evs {
		idBytes += len(evs[i].ID)
		rawBytes += len(evs[i].Raw)
	}
	text := func(bytes int) *pgArray { return newPGArray(pgText, n, bytes) }
	var (
		ids, rooms, types, stateKeys = text(idBytes), text(n * 32), text(n * 14), text(0)
		senders, names               = text(n * 32), text(n * 8)
		relTypes, relTargets         = text(0), text(0)
		relKeys, replyTos, raws      = text(0), text(0), text(rawBytes)
		times, received              = newPGArray(pgInt8, n, 8*n), newPGArray(pgInt8, n, 8*n)
		public                       = make([]bool, 0, n)
	)
	for i := range evs {
		ev := &evs[i]
		if _, err := w.room(ctx, ev.RoomID); err != nil {
			return err
		}
		ids.text(string(ev.ID))
		rooms.text(string(ev.RoomID))
		types.text(ev.Type)
		stateKeys.textOrNull(ev.StateKey)
		senders.text(string(ev.Sender))
		names.text(ev.SenderName)
		times.int8(ev.OriginTS)
		public = append(public, ev.Public)
		relTypes.text(ev.Rel.Type)
		relTargets.text(string(ev.Rel.EventID))
		relKeys.text(ev.Rel.Key)
		replyTos.text(string(ev.Rel.ReplyTo))
		raws.textBytes(ev.Raw)
		received.int8(w.now)
	}
	res, err := w.tx.ExecContext(ctx, insertEventsPostgresSQL, ids, rooms, types, stateKeys, senders, names, times, public,
		relTypes, relTargets, relKeys, replyTos, raws, received)
	if err != nil {
		return err
	}
	written, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if written != int64(n) {
		return fmt.Errorf("insert events: %d of %d rows stored", written, n)
	}
	return nil
}

// storedOrSeen returns ev's ID as stored (dbText), and whether the event
// is to be left out: its ID was stored already (probe) or is in fresh,
// the IDs of the batch's events to insert, to which it is added otherwise.
func (w *writer) storedOrSeen(ev id.EventID, fresh map[id.EventID]bool) (stored string, skip bool) {
	stored = dbText(string(ev))
	if fresh[id.EventID(stored)] || w.probed[stored]&probeStored != 0 {
		return stored, true
	}
	fresh[id.EventID(stored)] = true
	return stored, false
}

func (w *writer) room(ctx context.Context, roomID id.RoomID) (*roomDelta, error) {
	if d, ok := w.rooms[roomID]; ok {
		return d, nil
	}
	if _, err := w.exec(ctx, insertRoomSQL, string(roomID)); err != nil {
		return nil, err
	}
	d := &roomDelta{}
	w.rooms[roomID] = d
	return d, nil
}

func (w *writer) put(ctx context.Context, ev *Event, res *PutResult) error {
	d, err := w.room(ctx, ev.RoomID)
	if err != nil {
		return err
	}
	// New if insertAll wrote it; a second copy in the same batch is a
	// duplicate like any other.
	n := 0
	if w.inserted[ev.ID] {
		n = 1
		delete(w.inserted, ev.ID)
	}
	if ev.Arrived > 0 && event.IsHistoryVisibility(&ev.Event) {
		// The batch's latest (a refused one is not put), if this is its
		// first push: one pushed again (a transaction resent, the state
		// read on joining again) is older than what came since; one that
		// /sync or a sweep stored first is not.
		r, err := w.exec(ctx, pushedVisibilitySQL, string(ev.ID), string(ev.RoomID))
		if err != nil {
			return err
		}
		first, err := r.RowsAffected()
		if err != nil {
			return err
		}
		if ev.Arrived > d.arrivedOrder {
			d.arrived, d.arrivedTS, d.arrivedOrder, d.arrivedFirst = event.HistoryVisibility(ev.Content), min(ev.OriginTS, w.now), ev.Arrived, first == 1
			d.state = true
		}
	}
	if n == 0 {
		res.Duplicates++
	} else {
		res.Stored++
		if err := w.feed(ctx, ChangeStored, ev.RoomID, ev.ID); err != nil {
			return err
		}
		if err := w.addMediaRefs(ctx, ev); err != nil {
			return err
		}
		if ev.IsState() && w.changesSummary(ev.Type, *ev.StateKey) {
			d.state = true
		}
		if ev.IsState() && isControls(ev.Type, *ev.StateKey) {
			d.listing = true
			d.controls = append(d.controls, string(ev.ID))
		}
		// A room's first and last times are of what a reader can read:
		// its messages and its polls (RoomDays); its count, of messages.
		// Its last time is of one sent in time (sentInTime): one stamped
		// ahead of its arrival was sent before it came, not when it says
		// (a push is taken back to its arrival, clampAhead; history read
		// back keeps its claim), and one stamped in 2100 made its room
		// the directory's most recently active for good and sent its
		// readers there.
		if ev.Public && ev.Readable() {
			if ev.Displayable() {
				if d.senders == nil {
					d.senders = map[string]int64{}
				}
				if stored := dbText(string(ev.ID)); w.untallied[stored] {
					delete(w.untallied, stored) // redacted since insertAll wrote it
				} else {
					d.senders[dbText(string(ev.Sender))]++
					if w.tallied == nil {
						w.tallied = map[string]bool{}
					}
					w.tallied[stored] = true
				}
			}
			if d.times == nil {
				d.times = map[string][2]int64{}
			}
			sender := dbText(string(ev.Sender))
			t, seen := d.times[sender]
			if !seen || ev.OriginTS < t[0] {
				t[0] = ev.OriginTS
			}
			if ev.OriginTS > t[1] && sentInTime(ev.OriginTS, w.now) {
				t[1] = ev.OriginTS
			}
			d.times[sender] = t
		}
		if ev.Rel.Type == event.RelReplace && ev.Rel.EventID != "" {
			if err := w.feed(ctx, ChangeEdited, ev.RoomID, ev.Rel.EventID); err != nil {
				return err
			}
			if err := w.eraseLateEdit(ctx, ev); err != nil {
				return err
			}
		}
	}
	// The source may serve the event already redacted (backfill, export):
	// record that redaction so the archive shows it, even for a duplicate.
	if len(ev.RedactedBecause) > 0 {
		if red, perr := event.Parse(ev.RedactedBecause); perr == nil {
			if err := w.recordRedaction(ctx, red, ev.ID, res); err != nil {
				return err
			}
		} else {
			w.s.log.Warn("ignoring malformed unsigned.redacted_because", "event_id", ev.ID, "err", perr)
		}
	}
	if ev.Type == event.TypeRedaction {
		version, _, err := w.roomVersion(ctx, ev.RoomID)
		if err != nil {
			return err
		}
		if target := event.RedactsTargetIn(&ev.Event, version); target != "" {
			return w.recordRedaction(ctx, &ev.Event, target, res)
		}
		return nil
	}
	if n > 0 && (ev.Type == event.TypePowerLevels || ev.Type == event.TypeCreate) && ev.StateKey != nil && *ev.StateKey == "" {
		if err := w.rejudgeRedactions(ctx, ev.RoomID, res); err != nil {
			return fmt.Errorf("re-judge redactions in %s: %w", ev.RoomID, err)
		}
	}
	if n > 0 {
		return w.applyPending(ctx, ev.ID, res)
	}
	return nil
}

// markRelated keeps events.related (migration 014) true of every event
// some stored event names as its relation's target: the targets of the
// relations insertAll just wrote (the batch's own relations among them),
// and the events it wrote that relations stored before the batch named
// (probeNamed: probe's one look at events_rel for the batch's IDs, as
// notePending finds redactions waiting for them). It runs before put
// reads anything of the batch. A relation from another room, or one
// later redacted or purged, leaves its target marked: RelatedIn then
// probes for it and finds nothing, as it once did for every event. One
// redacted before its target arrived does not mark it (probeNamed reads
// events_rel, which holds no redacted relation since migration 026);
// no read of the target would show it anyway.
func (w *writer) markRelated(ctx context.Context, evs []Event) error {
	mark := map[string]bool{}
	for i := range evs {
		ev := &evs[i]
		if !w.inserted[ev.ID] {
			continue
		}
		if w.probed[string(ev.ID)]&probeNamed != 0 {
			mark[string(ev.ID)] = true
		}
		if t := string(ev.Rel.EventID); t != "" {
			mark[t] = true
		}
	}
	if len(mark) == 0 {
		return nil
	}
	if _, err := w.among(ctx, markRelatedSQL, slices.Collect(maps.Keys(mark))); err != nil {
		return fmt.Errorf("mark related events: %w", err)
	}
	return nil
}

// notePending notes which of the events insertAll just wrote an unapplied
// redaction is waiting for (one that arrived first, or was served before
// its target was backfilled), as probe found them: insertAll writes no
// redaction.
func (w *writer) notePending() {
	for e := range w.inserted {
		if w.probed[string(e)]&probePending != 0 {
			w.batchTargets[e] = true
		}
	}
}

// recordRedaction stores a redaction keyed by its target and applies it if
// the target is already here.
func (w *writer) recordRedaction(ctx context.Context, red *event.Event, target id.EventID, res *PutResult) error {
	w.batchTargets[target] = true
	reason := event.StringField(red.Content, "reason")
	if _, err := w.tx.ExecContext(ctx, insertRedactionSQL, string(red.ID), string(target), string(red.RoomID),
		string(red.Sender), reason, red.OriginTS, w.now); err != nil {
		return err
	}
	return w.applyPending(ctx, target, res)
}

// rejudgeLimit bounds the redactions one state event re-judges: a room
// full of rejected redactions must not make every power-level change cost
// without bound.
const rejudgeLimit = 1000

// rejudgeRedactions judges again the unapplied redactions of a room whose
// power levels or create event just arrived: a redaction rejected (or
// deferred for want of the room version) before the state in force when it
// was sent was known may be valid after all, or finally judged.
func (w *writer) rejudgeRedactions(ctx context.Context, room id.RoomID, res *PutResult) error {
	targets, err := scanStrings(w.tx.QueryContext(ctx, w.s.dbForm(rejudgeTargetsSQL), string(room), rejudgeLimit))
	if err != nil {
		return err
	}
	for _, t := range targets {
		if _, err := w.tx.ExecContext(ctx, `UPDATE redactions SET rejected = FALSE WHERE target_id = $1 AND room_id = $2 AND applied_at IS NULL`,
			t, string(room)); err != nil {
			return err
		}
		w.batchTargets[id.EventID(t)] = true
		if err := w.applyPending(ctx, id.EventID(t), res); err != nil {
			return err
		}
	}
	return nil
}

type pendingRedaction struct {
	id, target, room, sender, reason string
	ts                               int64
	// operator: a takedown by the archive's operator, not a Matrix
	// redaction; the room's rules do not apply.
	operator bool
}

// applyPending applies every unapplied redaction waiting for target.
func (w *writer) applyPending(ctx context.Context, target id.EventID, res *PutResult) error {
	if !w.batchTargets[target] {
		return nil
	}
	rows, err := w.pending.QueryContext(ctx, string(target))
	if err != nil {
		return err
	}
	var pend []pendingRedaction
	for rows.Next() {
		var p pendingRedaction
		if err := rows.Scan(&p.id, &p.target, &p.room, &p.sender, &p.reason, &p.ts); err != nil {
			rows.Close()
			return err
		}
		pend = append(pend, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range pend {
		if err := w.applyRedaction(ctx, p, res); err != nil {
			return fmt.Errorf("apply redaction %s: %w", p.id, err)
		}
	}
	return nil
}

func (w *writer) applyRedaction(ctx context.Context, p pendingRedaction, res *PutResult) error {
	var (
		nid, ts, received                              int64
		room, typ, sender, relType, relTarget, rawText string
		public, redacted                               bool
		stateKey                                       sql.NullString
	)
	err := w.tx.QueryRowContext(ctx, w.s.dbForm(redactionTargetSQL), p.target).Scan(&nid, &room, &typ, &sender, &public, &relType, &relTarget, &rawText, &redacted, &stateKey, &ts, &received)
	isState := stateKey.Valid
	if errors.Is(err, sql.ErrNoRows) {
		res.RedactionsPending++
		return nil
	}
	if err != nil {
		return err
	}
	version, creators, err := w.roomVersion(ctx, id.RoomID(room))
	if err != nil {
		return err
	}
	// The power the redacter holds where the redaction is: not before
	// its target, whatever time its server gave it (a moderator demoted
	// since, whose server backdates a redaction to when they were one,
	// would erase a message sent after the demotion). A target stamped
	// ahead of its arrival (sentInTimeSQL's hour) tells nothing of when
	// it was sent: spam stamped in 2100 would void every moderator's
	// redaction of it once a demotion is stored.
	at := p.ts
	if sentInTime(ts, received) {
		at = max(p.ts, ts)
	}
	pl, _, err := w.stateAt(ctx, id.RoomID(room), event.TypePowerLevels, "", at)
	if err != nil {
		return err
	}
	check := event.RedactCheck{
		RoomVersion:   version,
		Redaction:     &event.Event{ID: id.EventID(p.id), RoomID: id.RoomID(p.room), Sender: id.UserID(p.sender), Type: event.TypeRedaction},
		TargetEventID: id.EventID(p.target),
		TargetSender:  id.UserID(sender),
		TargetType:    typ,
		PowerLevels:   pl,
		Creators:      creators,
	}
	allowed := p.operator || room == p.room && event.RedactionAllowed(check)
	if !p.operator && room == p.room {
		known, err := w.createKnown(ctx, id.RoomID(room))
		if err != nil {
			return err
		}
		if !known {
			// The room version is unknown: judge by the oldest and the
			// newest rules, and wait for the create event (which
			// rejudgeRedactions acts on) when they disagree.
			check.RoomVersion = "1"
			v1 := event.RedactionAllowed(check)
			check.RoomVersion = "11"
			if v1 != event.RedactionAllowed(check) {
				res.RedactionsPending++
				w.s.log.Info("redaction waits for the room's create event: its version decides it",
					"room_id", room, "event_id", p.target, "redaction_id", p.id)
				return nil
			}
			allowed = v1
		}
	}
	if !allowed {
		res.RedactionsInvalid++
		w.s.log.Warn("redaction not applied: not permitted by the room's rules",
			"room_id", room, "event_id", p.target, "redaction_id", p.id, "sender", p.sender)
		_, err := w.tx.ExecContext(ctx, markRejectedSQL, p.id)
		return err
	}
	if !redacted {
		if err := w.stripEvent(ctx, nid, rawText, version); err != nil {
			return err
		}
		if typ == event.TypeRedaction {
			// Redacting a redaction takes back its reason, which the
			// placeholder of the message it deleted shows (RedactionsOf
			// reads the copy kept in redactions).
			if _, err := w.tx.ExecContext(ctx, `UPDATE redactions SET reason = '' WHERE redaction_id = $1 AND reason <> ''`, p.target); err != nil {
				return err
			}
		}
		// Redacting an original erases every edit's text with it.
		edits, err := w.editsOf(ctx, id.EventID(p.target))
		if err != nil {
			return err
		}
		for _, e := range edits {
			if err := w.stripEvent(ctx, e.nid, e.raw, version); err != nil {
				return err
			}
		}
		if err := w.feed(ctx, ChangeRedacted, id.RoomID(room), id.EventID(p.target)); err != nil {
			return err
		}
		if typ == event.TypeMember && isState && sender == stateKey.String {
			// Redacting one's member event withdraws the name it set
			// (a name is taken from one's own member events alone).
			if err := w.forgetName(ctx, id.RoomID(room), id.UserID(stateKey.String), ts); err != nil {
				return err
			}
		}
		if isState && (w.changesSummary(typ, stateKey.String) || isControls(typ, stateKey.String)) {
			// A redacted topic means no topic: recompute the summary.
			d, err := w.room(ctx, id.RoomID(room))
			if err != nil {
				return err
			}
			d.state = d.state || w.changesSummary(typ, stateKey.String)
			if isControls(typ, stateKey.String) {
				d.listing, d.redacted = true, true
			}
		}
		if relType == event.RelReplace && relTarget != "" {
			// Redacting an edit reverts its original to the previous version.
			if err := w.feed(ctx, ChangeEdited, id.RoomID(room), id.EventID(relTarget)); err != nil {
				return err
			}
		}
		if public && isTimelineMessage(typ, relType) {
			// A message stored by this transaction is counted when it
			// ends (finish), from its tally: one redacted before that,
			// which the room's row does not count yet, stayed counted
			// for good. Tallied already (put), or to be (written by
			// insertAll, not put yet: a backfill's redaction comes
			// before its message).
			d := w.rooms[id.RoomID(room)]
			switch {
			case w.tallied[p.target] && d != nil && d.senders[sender] > 0:
				d.senders[sender]--
				delete(w.tallied, p.target)
			case w.inserted[id.EventID(p.target)]:
				if w.untallied == nil {
					w.untallied = map[string]bool{}
				}
				w.untallied[p.target] = true
			default:
				if _, err := w.tx.ExecContext(ctx, uncountMessageSQL, room, sender); err != nil {
					return err
				}
			}
		}
	}
	res.RedactionsApplied++
	_, err = w.tx.ExecContext(ctx, markAppliedSQL, w.now, p.id)
	return err
}

// eraseLateEdit strips an edit that arrives after its original was
// redacted (backfill, a sweep): redacting a message erases all its edits,
// including the ones the archive had not seen yet.
func (w *writer) eraseLateEdit(ctx context.Context, ev *Event) error {
	var targetRedacted bool
	err := w.tx.QueryRowContext(ctx, w.s.dbForm(redactedByIDSQL), string(ev.Rel.EventID)).Scan(&targetRedacted)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !targetRedacted) {
		return nil
	}
	if err != nil {
		return err
	}
	var nid int64
	if err := w.tx.QueryRowContext(ctx, w.s.dbForm(nidByIDSQL), string(ev.ID)).Scan(&nid); err != nil {
		return err
	}
	version, _, err := w.roomVersion(ctx, ev.RoomID)
	if err != nil {
		return err
	}
	return w.stripEvent(ctx, nid, string(ev.Raw), version)
}

type rawRow struct {
	nid int64
	raw string
}

func (w *writer) editsOf(ctx context.Context, target id.EventID) ([]rawRow, error) {
	rows, err := w.tx.QueryContext(ctx, editsOfSQL, string(target))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rawRow
	for rows.Next() {
		var r rawRow
		if err := rows.Scan(&r.nid, &r.raw); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// stripEvent replaces a stored event by its redacted form; the media it
// referred to loses that reference (media.go).
func (w *writer) stripEvent(ctx context.Context, nid int64, rawText, version string) error {
	red, err := event.Redact(json.RawMessage(rawText), version)
	if err != nil {
		return err
	}
	if w.s.dialect == sqlite {
		_, err = w.tx.ExecContext(ctx, markRedactedSQLite, string(red), nid, mentionsMeeting(event.TypeMessage, red))
	} else {
		_, err = w.tx.ExecContext(ctx, markRedactedSQL, string(red), nid)
	}
	if err != nil {
		return err
	}
	var evID string
	if err := w.tx.QueryRowContext(ctx, `SELECT event_id FROM events WHERE nid = $1`, nid).Scan(&evID); err != nil {
		return err
	}
	return w.dropMediaRefs(ctx, evID)
}

// roomVersion returns the room's version and its creators (the create
// event's sender plus, from v12, content.additional_creators).
func (w *writer) roomVersion(ctx context.Context, room id.RoomID) (string, []id.UserID, error) {
	var version, creator string
	err := w.tx.QueryRowContext(ctx, roomVersionSQL, string(room)).Scan(&version, &creator)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", nil, err
	}
	create, createSender, err := w.stateAt(ctx, room, event.TypeCreate, "", 1<<62)
	if err != nil {
		return "", nil, err
	}
	if create != nil {
		version = event.StringField(create, "room_version")
		if version == "" {
			version = "1"
		}
		creator = string(createSender)
	}
	var creators []id.UserID
	if creator != "" {
		creators = append(creators, id.UserID(creator))
	}
	var extra struct {
		AdditionalCreators []string `json:"additional_creators"`
	}
	if create != nil && json.Unmarshal(create, &extra) == nil {
		for _, c := range extra.AdditionalCreators {
			creators = append(creators, id.UserID(c))
		}
	}
	return version, creators, nil
}

// createKnown reports whether the archive holds the room's create event,
// without which its version is unknown.
func (w *writer) createKnown(ctx context.Context, room id.RoomID) (bool, error) {
	var one int
	err := w.tx.QueryRowContext(ctx, `SELECT 1 FROM events WHERE room_id = $1 AND type = $2 AND state_key = '' LIMIT 1`,
		string(room), event.TypeCreate).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// stateAt returns the content and sender of the room's state event
// (type, stateKey) in force at ts, or nil content if there is none.
func (w *writer) stateAt(ctx context.Context, room id.RoomID, typ, stateKey string, ts int64) (json.RawMessage, id.UserID, error) {
	var content, sender string
	err := w.tx.QueryRowContext(ctx, stateAtSQL, string(room), typ, stateKey, ts).Scan(&content, &sender)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	return event.ContentOf([]byte(content)), id.UserID(sender), nil
}

// finish updates the summaries of the rooms the batch touched and writes
// the buffered change feed.
func (w *writer) finish(ctx context.Context) error {
	optedOut, err := w.optedOutSenders(ctx)
	if err != nil {
		return err
	}
	for room, d := range w.rooms {
		var messages int64
		for sender, n := range d.senders {
			if !optedOut[sender] {
				messages += n
			}
		}
		// An opted-out sender's messages set no time: a room's times
		// are of what its pages show.
		var minTS, maxTS int64
		for sender, t := range d.times {
			if !optedOut[sender] {
				if minTS == 0 || t[0] < minTS {
					minTS = t[0]
				}
				maxTS = max(maxTS, t[1])
			}
		}
		if messages > 0 || minTS > 0 {
			if _, err := w.exec(ctx, countMessageSQL, string(room), messages, minTS, maxTS); err != nil {
				return err
			}
		}
		if d.arrivedFirst {
			if _, err := w.exec(ctx, setArrivedVisibilitySQL, string(room), d.arrived, w.now, d.arrivedTS); err != nil {
				return fmt.Errorf("room %s: %w", room, err)
			}
		}
		if d.state {
			if err := w.refreshRoom(ctx, room); err != nil {
				return fmt.Errorf("refresh room %s: %w", room, err)
			}
		}
		if d.listing {
			changed, err := w.listingChanged(ctx, room, d)
			if err != nil {
				return err
			}
			if changed {
				if err := w.feed(ctx, ChangeListed, room, ""); err != nil {
					return err
				}
			}
		}
	}
	if w.s.dialect == sqlite {
		_, err := w.insertRowsSQLite(ctx, insertChangesSQLite, w.changes)
		return err
	}
	return w.insertChangesPostgres(ctx)
}

// listingChanged reports whether the controls events the batch stored in
// room changed whether it asks not to be listed: compared with the latest
// controls without them. A change moves every process's consent copy,
// and with it every page's cache key, so one that changes nothing (an
// import or backfill storing a room's old controls, a room member sending
// the same controls again and again) must not. A redaction of controls is
// taken as a change: what it removed is no longer there to compare, and so
// is a batch of more than 64 controls events in one room.
func (w *writer) listingChanged(ctx context.Context, room id.RoomID, d *roomDelta) (bool, error) {
	if d.redacted || len(d.controls) == 0 || len(d.controls) > 64 {
		return true, nil // past 64, one change a batch: a statement of them all may be too long
	}
	latest := func(without []string) (bool, error) {
		var raws [2]sql.NullString
		for i, typ := range []string{event.TypeArchiveControls, event.TypeArchiveControlsUnstable} {
			q := `SELECT raw FROM events WHERE room_id = $1 AND type = $2 AND state_key = ''`
			args := []any{string(room), typ}
			for _, evID := range without {
				args = append(args, evID)
				q += fmt.Sprintf(" AND event_id <> $%d", len(args))
			}
			err := w.tx.QueryRowContext(ctx, q+` ORDER BY origin_ts DESC, nid DESC LIMIT 1`, args...).Scan(&raws[i])
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return false, err
			}
		}
		return controlsUnlisted(raws[0], raws[1]), nil
	}
	before, err := latest(d.controls)
	if err != nil {
		return false, err
	}
	after, err := latest(nil)
	return before != after, err
}

// insertChangesPostgres writes w.changes on PostgreSQL as one array a
// column (insertChangesPostgresSQL), as insertAllPostgres the events.
func (w *writer) insertChangesPostgres(ctx context.Context) error {
	for rest := w.changes; len(rest) > 0; {
		n := min(len(rest)/changeWidth, changesPerInsert)
		kinds, rooms, evs, users := newPGArray(pgText, n, 8*n), newPGArray(pgText, n, 32*n), newPGArray(pgText, n, 48*n), newPGArray(pgText, n, 0)
		at := newPGArray(pgInt8, n, 8*n)
		for i := range n {
			row := rest[i*changeWidth : (i+1)*changeWidth]
			kinds.text(row[0].(string))
			rooms.text(row[1].(string))
			evs.text(row[2].(string))
			at.int8(row[3].(int64))
			users.text(row[4].(string))
		}
		if _, err := w.tx.ExecContext(ctx, insertChangesPostgresSQL, kinds, rooms, evs, at, users); err != nil {
			return err
		}
		rest = rest[n*changeWidth:]
	}
	return nil
}

// inWrite runs f in a write transaction with a writer, then writes the
// changes f fed, notifies listeners if there were any, and commits. Every
// write goes through it.
func (s *Store) inWrite(ctx context.Context, f func(w *writer) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	w, err := s.newWriter(ctx, tx)
	if err != nil {
		return err
	}
	defer w.close()
	if err := f(w); err != nil {
		return err
	}
	if err := w.finish(ctx); err != nil {
		return err
	}
	if s.dialect == postgres && len(w.changes) > 0 {
		if _, err := tx.ExecContext(ctx, `NOTIFY `+notifyChannel); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// The kinds probe finds: the bits probeSQL sums, with the same values.
const (
	probeTombstoned = 1 // deleted on purpose (expired, purged, erased): not to be stored again
	probePending    = 2 // an unapplied redaction waits for it
	probeNamed      = 4 // a stored event's relation names it
	probeStored     = 8 // stored already
)

// probe finds what the batch's event IDs are to the archive (probeSQL),
// before insertAll writes them, and keeps it in w.probed. A relation
// target that an event of the batch names is not in it: markRelated
// takes those from the batch itself. One statement, the IDs one
// parameter (queryIDs): the three lists it replaces, one query each,
// were an eighth of an import's writes on SQLite (5.7 of 44 s of the
// 1M replay's profile; now 1.3 of 39), most of it walking the same JSON
// array three times. archiver import of the 1M replay, alternated:
// SQLite 45.2-48.8 s → 37.7-43.5 (three pairs), PostgreSQL 47.2-47.5 →
// 44.2-44.9 (two).
func (w *writer) probe(ctx context.Context, ids []string) error {
	w.probed = map[string]int{}
	if len(ids) == 0 {
		return nil
	}
	rows, err := w.queryIDs(ctx, sqliteProbeSQL, postgresProbeSQL, ids)
	return forRows(rows, err, func(r *sql.Rows) error {
		var e string
		var kinds int
		if err := r.Scan(&e, &kinds); err != nil {
			return err
		}
		w.probed[e] |= kinds
		return nil
	})
}

// count is how many of the batch's IDs probe found of kind.
func (w *writer) count(kind int) int {
	n := 0
	for _, kinds := range w.probed {
		if kinds&kind != 0 {
			n++
		}
	}
	return n
}

// probeSQL as each database runs it: the IDs are one JSON array on
// SQLite (as sqliteIDRows), one text[] on PostgreSQL (as postgresAmong).
var (
	sqliteProbeSQL   = sqliteForm(fmt.Sprintf(probeSQL, "json_each($1) AS ids", probeStoredSQL, relationsGuardSQL, "LIMIT -1 OFFSET 0", probeNamedSQL))
	postgresProbeSQL = fmt.Sprintf(probeSQL, "unnest($1::text[]) AS ids(value)", probeStoredSQL, "", "OFFSET 0", postgresProbeNamedSQL)
)

// among runs query (" IN (%[1]s)" for a list of IDs, " IN (%[2]s)" for
// their idh) for ids and returns the one column of its rows, in one
// statement whatever their number: the IDs are one parameter. On SQLite
// a JSON array read by json_each (sqliteAmong,
// prepared once by prepareWrites): a list of parameters has a text for
// every length, which modernc compiled anew for every batch. On
// PostgreSQL a text[] compared with = ANY (postgresAmong), an index
// condition like an IN list: an import's batch of 10,000 events was 20
// statements of 500 parameters for each list, and markRelated's lists as
// such made an import 10% slower (BenchmarkImport). Like every string a
// writer sends, the IDs go through dbText.
func (w *writer) among(ctx context.Context, query string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return scanStrings(w.queryIDs(ctx, sqliteAmong(query), postgresAmong(query), ids))
}

// queryIDs runs a query whose one parameter is a list of IDs: on SQLite
// sqliteQuery, prepared once, with the IDs as a JSON array; on
// PostgreSQL postgresQuery with them as a text[]. The IDs go through
// dbText.
func (w *writer) queryIDs(ctx context.Context, sqliteQuery, postgresQuery string, ids []string) (*sql.Rows, error) {
	if w.s.dialect == postgres {
		bytes := 0
		for _, e := range ids {
			bytes += len(e)
		}
		list := newPGArray(pgText, len(ids), bytes)
		for _, e := range ids {
			list.text(e)
		}
		return w.tx.QueryContext(ctx, postgresQuery, list)
	}
	list := make([]string, len(ids))
	for i, e := range ids {
		list[i] = dbText(e)
	}
	arg, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	st, err := w.stmt(ctx, sqliteQuery)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, string(arg))
}

// postgresAmong is query (of writer.among) as PostgreSQL runs it: the IN
// list of the IDs (%[1]s) is = ANY of the one text[], that of their
// hashes (%[2]s) = ANY of an array of each one's idh, made once a
// statement: an index condition on events_idkey either way.
func postgresAmong(query string) string {
	return strings.NewReplacer(" IN (%[1]s)", " = ANY($1)", " IN (%[2]s)", " = ANY(ARRAY(SELECT idh(ids) FROM unnest($1::text[]) ids))").Replace(query)
}

// sqliteAmong is query (of writer.among) as SQLite runs it.
func sqliteAmong(query string) string {
	return sqliteForm(fmt.Sprintf(query, sqliteIDRows, sqliteIDHRows))
}
