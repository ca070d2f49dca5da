package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// Reasons recorded in tombstones.
const (
	TombstoneExpired = "expired"
	TombstonePurged  = "purged"
	TombstoneErased  = "erased"
	// TombstoneNotPublic: never stored, sent while its room was not
	// public (Event.Withheld). Not shown as deleted: the archive never
	// held it.
	TombstoneNotPublic = "not_public"
)

// dropWithdrawn removes from a batch the events deleted on purpose before
// (a retried transaction or a backfill must not bring them back), those
// of purged rooms, and the messages of erased users: one that arrives
// after the erasure (a late backfill, an export imported afterwards) was
// never stored, so has no tombstone, and was stored whole, its media
// fetched. Their state events are stored, as what places the room's
// history, stripped as the erasure stripped those it found (eraseLate),
// and so are their redactions (a moderator's: the message stays
// withdrawn). A withheld event is not stored either (withhold). It learns
// the first from writer.probe, whose look at the batch's IDs notePending
// and markRelated read after it.
func (w *writer) dropWithdrawn(ctx context.Context, evs []Event, res *PutResult) ([]Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = string(evs[i].ID)
	}
	if err := w.probe(ctx, ids); err != nil {
		return nil, err
	}
	gone := w.count(probeTombstoned)
	withheld := slices.ContainsFunc(evs, func(e Event) bool { return e.Withheld })
	// One query for both: each is a round trip on PostgreSQL.
	rows, err := w.tx.QueryContext(ctx, `SELECT 'r', room_id FROM rooms WHERE purged
		UNION ALL SELECT 'u', user_id FROM optouts WHERE via = $1`, OptOutErased)
	if err != nil {
		return nil, err
	}
	purged, erased := map[string]bool{}, map[string]bool{}
	for rows.Next() {
		var kind, name string
		if err := rows.Scan(&kind, &name); err != nil {
			rows.Close()
			return nil, err
		}
		if kind == "r" {
			purged[name] = true
		} else {
			erased[name] = true
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	w.erased = erased
	if gone == 0 && len(purged) == 0 && len(erased) == 0 && !withheld {
		return evs, nil
	}
	out := evs[:0:0]
	for _, e := range evs {
		if e.Withheld {
			if err := w.withhold(ctx, &e); err != nil {
				return nil, err
			}
			continue
		}
		if w.probed[string(e.ID)]&probeTombstoned != 0 || purged[string(e.RoomID)] || erased[string(e.Sender)] && !e.IsState() && e.Type != event.TypeRedaction {
			res.Withdrawn++
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// eraseLate strips, as EraseUser does, the state events of the batch that
// erased users sent (but the room's governing state) and the member
// events about them: arriving after the erasure (a late backfill, an
// import), they were stored whole, a topic of theirs the room's again.
func (w *writer) eraseLate(ctx context.Context, evs []Event) error {
	if len(w.erased) == 0 {
		return nil
	}
	for i := range evs {
		e := &evs[i]
		if !e.IsState() {
			continue
		}
		governing := slices.Contains(governingTypes, e.Type)
		own := w.erased[string(e.Sender)] && !governing
		about := e.Type == event.TypeMember && w.erased[*e.StateKey]
		if w.erased[string(e.Sender)] && governing {
			// Kept, with only what governs (governingOnly).
			if out, changed := governingOnly(e.Raw, e.Type); changed {
				res, err := w.tx.ExecContext(ctx, w.s.dbForm(`UPDATE events SET raw = $1 WHERE idh(event_id) = idh($2) AND event_id = $2 AND NOT redacted AND raw <> $1`),
					dbText(string(out)), string(e.ID))
				if err != nil {
					return err
				}
				// Fed only when it changed: a redelivery of what was
				// rewritten already (a state fetch, a sweep) changes no page.
				if n, err := res.RowsAffected(); err != nil {
					return err
				} else if n > 0 {
					if err := w.feed(ctx, ChangeRedacted, e.RoomID, e.ID); err != nil {
						return err
					}
				}
			}
			continue
		}
		if !own && !about {
			continue
		}
		var nid int64
		var redacted bool
		err := w.tx.QueryRowContext(ctx, w.s.dbForm(`SELECT nid, redacted FROM events WHERE idh(event_id) = idh($1) AND event_id = $1`), string(e.ID)).Scan(&nid, &redacted)
		if errors.Is(err, sql.ErrNoRows) || err == nil && redacted {
			continue // quarantined, or stripped already
		}
		if err != nil {
			return err
		}
		version, _, err := w.roomVersion(ctx, e.RoomID)
		if err != nil {
			return err
		}
		if err := w.stripEvent(ctx, nid, string(e.Raw), version); err != nil {
			return err
		}
		// Fed as EraseUser feeds what it strips: an event stored before
		// (a redelivery) may be on a cached page.
		if err := w.feed(ctx, ChangeRedacted, e.RoomID, e.ID); err != nil {
			return err
		}
		d, err := w.room(ctx, e.RoomID)
		if err != nil {
			return err
		}
		d.state = true
	}
	return nil
}

// withhold records a withheld event's ID (TombstoneNotPublic), unless the
// archive holds the event already: judged public before, it stays.
func (w *writer) withhold(ctx context.Context, e *Event) error {
	var nid int64
	err := w.tx.QueryRowContext(ctx, w.s.dbForm(nidByIDSQL), string(e.ID)).Scan(&nid)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err = w.tx.ExecContext(ctx, `INSERT INTO tombstones (event_id, room_id, reason, at, origin_ts) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (event_id) DO NOTHING`, string(e.ID), string(e.RoomID), TombstoneNotPublic, w.now, e.OriginTS)
	return err
}

// victim is an event about to be deleted on purpose.
type victim struct {
	nid, ts  int64
	id, room string
	counted  bool // a public, unredacted message of a sender not opted out: counted in rooms.message_count
	// shown: a message or poll its room's pages show (public, not
	// redacted, its sender not opted out), which may have set its room's
	// first or last time.
	shown bool
	// threadRoot is the message it replies to in a thread, if it is a
	// thread reply ("" otherwise).
	threadRoot string
}

// deleteEvents deletes events, leaves their tombstones, drops the
// redactions of them and appends a change for each so the index drops it.
func (w *writer) deleteEvents(ctx context.Context, vs []victim, reason string) error {
	uncount := map[string]int{}
	retime := map[string]bool{} // rooms whose times a victim may have set
	for _, v := range vs {
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO tombstones (event_id, room_id, reason, at, origin_ts) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (event_id) DO NOTHING`, v.id, v.room, reason, w.now, v.ts); err != nil {
			return err
		}
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM events WHERE nid = $1`, v.nid); err != nil {
			return err
		}
		if err := w.dropMediaRefs(ctx, v.id); err != nil {
			return err
		}
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM redactions WHERE target_id = $1`, v.id); err != nil {
			return err
		}
		// A deleted redaction's own words (its reason) and author go too;
		// the row stays, so a target that arrives later is still redacted.
		if _, err := w.tx.ExecContext(ctx, `UPDATE redactions SET reason = '', sender = '' WHERE redaction_id = $1`, v.id); err != nil {
			return err
		}
		if v.counted {
			uncount[v.room]++
		}
		if v.shown {
			retime[v.room] = true
		}
		if err := w.feed(ctx, ChangeExpired, id.RoomID(v.room), id.EventID(v.id)); err != nil {
			return err
		}
		if v.threadRoot != "" {
			// Its root may have no reply left: the index, which asks
			// whether a message is a thread's root (is:thread), reads
			// the root again for a change of it.
			if err := w.feed(ctx, ChangeEdited, id.RoomID(v.room), id.EventID(v.threadRoot)); err != nil {
				return err
			}
		}
	}
	for room, n := range uncount {
		if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET message_count = CASE WHEN message_count > $2 THEN message_count - $2 ELSE 0 END
			WHERE room_id = $1`, room, n); err != nil {
			return err
		}
	}
	for room := range retime {
		if err := w.retime(ctx, room); err != nil {
			return err
		}
	}
	return nil
}

const victimColumns = `nid, origin_ts, event_id, room_id, (public AND NOT redacted AND ` + timelineMessageSQL + notOptedOutCond + `),
	(public AND NOT redacted AND ` + readableSQL + notOptedOutCond + `), CASE WHEN rel_type = 'm.thread' THEN rel_target ELSE '' END`

func (w *writer) victims(ctx context.Context, query string, args ...any) ([]victim, error) {
	rows, err := w.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []victim
	for rows.Next() {
		var v victim
		if err := rows.Scan(&v.nid, &v.ts, &v.id, &v.room, &v.counted, &v.shown, &v.threadRoot); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// deleteInBatches runs selectSQL (which must end with LIMIT $n, n being
// len(args)+1) and deletes what it returns, one transaction per batch,
// until it returns nothing. With dryRun it only counts (countSQL, same
// arguments without the limit). It returns how many events it deleted (or
// would delete). batchDone, if set, hears of each batch after its commit.
func (s *Store) deleteInBatches(ctx context.Context, dryRun bool, countSQL, selectSQL, reason string, batchDone func(n int), args ...any) (int64, error) {
	if dryRun {
		var n int64
		ctx, cancel := s.readCtx(ctx)
		defer cancel()
		err := s.db.QueryRowContext(ctx, countSQL, args...).Scan(&n)
		return n, err
	}
	var total int64
	for {
		var batch []victim
		err := s.inWrite(ctx, func(w *writer) error {
			var err error
			if batch, err = w.victims(ctx, selectSQL, append(args, s.opts.PurgeBatch)...); err != nil {
				return err
			}
			return w.deleteEvents(ctx, batch, reason)
		})
		if err != nil {
			return total, err
		}
		total += int64(len(batch))
		if batchDone != nil && len(batch) > 0 {
			batchDone(len(batch))
		}
		if len(batch) < s.opts.PurgeBatch {
			return total, nil
		}
	}
}

func (s *Store) allRoomIDs(ctx context.Context) ([]id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rooms, err := scanStrings(s.db.QueryContext(ctx, `SELECT room_id FROM rooms ORDER BY room_id`))
	out := make([]id.RoomID, len(rooms))
	for i, r := range rooms {
		out[i] = id.RoomID(r)
	}
	return out, err
}

// HideRoom hides a room (or shows it again) by the operator's decision. It
// keeps recording; the index drops (or re-adds) its messages.
func (s *Store) HideRoom(ctx context.Context, room id.RoomID, hidden bool, reason string) error {
	if _, err := s.Room(ctx, room); err != nil {
		return err
	}
	return s.inWrite(ctx, func(w *writer) error {
		if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET hidden = $2, hidden_reason = $3 WHERE room_id = $1`, string(room), hidden, reason); err != nil {
			return err
		}
		return w.feed(ctx, ChangeHidden, room, "")
	})
}

// PurgeRoom deletes every event of a room, leaving tombstones, and marks it
// purged: nothing of it is stored again, and its pages answer 410, by
// room ID or by an alias that routed to it.
func (s *Store) PurgeRoom(ctx context.Context, room id.RoomID, dryRun bool) (int64, error) {
	if _, err := s.Room(ctx, room); err != nil {
		return 0, err
	}
	if !dryRun {
		// Purged first: from here on ingest stores nothing of the room.
		err := s.inWrite(ctx, func(w *writer) error {
			if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET purged = TRUE WHERE room_id = $1`, string(room)); err != nil {
				return err
			}
			return w.feed(ctx, ChangeHidden, room, "")
		})
		if err != nil {
			return 0, err
		}
	}
	const where = ` FROM events WHERE room_id = $1`
	n, err := s.deleteInBatches(ctx, dryRun, `SELECT COUNT(*)`+where, `SELECT `+victimColumns+where+` ORDER BY nid LIMIT $2`, TombstonePurged, nil, string(room))
	if err != nil || dryRun {
		return n, err
	}
	err = s.inWrite(ctx, func(w *writer) error {
		for _, q := range []string{
			// Its alias routes stay: a link by alias answers 410, as one by
			// room ID does, until the alias is verified for another room
			// (or an import routes it, RouteUnclaimedAliases).
			`DELETE FROM redactions WHERE room_id = $1`, `DELETE FROM alias_claims WHERE room_id = $1`,
			`DELETE FROM room_sync WHERE room_id = $1`, `DELETE FROM quarantine WHERE room_id = $1`,
			`DELETE FROM pushed_visibility WHERE room_id = $1`,
			`UPDATE rooms SET message_count = 0, first_ts = 0, last_ts = 0, name = '', topic = '', avatar_url = '',
				canonical_alias = '', alt_aliases = '[]' WHERE room_id = $1`,
		} {
			if _, err := w.tx.ExecContext(ctx, q, string(room)); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Takedown removes one event's content by the operator's decision: it is
// stripped like a redaction (its edits too), and shown as removed by the
// archive's operator with the reason.
func (s *Store) Takedown(ctx context.Context, eventID id.EventID, reason string) error {
	ev, err := s.EventByID(ctx, eventID)
	if err != nil {
		return err
	}
	return s.inWrite(ctx, func(w *writer) error {
		p := pendingRedaction{id: takedownPrefix + string(eventID), target: string(eventID), room: string(ev.RoomID),
			reason: reason, ts: w.now, operator: true}
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO redactions (redaction_id, target_id, room_id, sender, reason, origin_ts, received_at)
			VALUES ($1, $2, $3, '', $4, $5, $5) ON CONFLICT (redaction_id) DO UPDATE SET reason = excluded.reason`,
			p.id, p.target, p.room, reason, w.now); err != nil {
			return err
		}
		var res PutResult
		if err := w.applyRedaction(ctx, p, &res); err != nil {
			return err
		}
		// A member's redaction moves no time of its room (retimeRoomSQL);
		// the operator's, once, does.
		if err := w.retime(ctx, string(ev.RoomID)); err != nil {
			return err
		}
		// Taken down again, to replace its reason (one that said too
		// much): applyRedaction feeds nothing for a message already
		// redacted, and every page that shows the old reason is keyed
		// by its room's feed position.
		return w.feed(ctx, ChangeRedacted, ev.RoomID, eventID)
	})
}

// OptOutRedaction stands for an opted-out sender's message wherever a
// deleted message is shown. It has no time: when the sender opted out is
// Store.OptedOutAt's.
func OptOutRedaction(e Event) Redaction {
	return Redaction{RedactionID: optOutPrefix + e.ID, TargetID: e.ID, RoomID: e.RoomID, Kind: RedactionOptOut}
}

// EraseUser deletes every message (non-state event) a user sent, leaving
// tombstones, strips the content of their state events (as a redaction
// would: a display name, a topic they set) but the room's governing state
// (governingTypes), and of the member events others
// sent about them (an invite carries the invitee's name), clears the
// display name copied into their events, and opts them out, so what they
// send later is not shown either. It returns the number of events deleted
// or stripped (or that would be, with dryRun).
func (s *Store) EraseUser(ctx context.Context, user id.UserID, dryRun bool) (int64, error) {
	// Opted out first: from this commit on, nothing of theirs is shown or
	// indexed, even what arrives while the batches run or if they fail.
	if !dryRun {
		err := s.inWrite(ctx, func(w *writer) error {
			was, err := w.optedOut(ctx, user)
			if err != nil {
				return err
			}
			if _, err := w.tx.ExecContext(ctx, `INSERT INTO optouts (user_id, at, via) VALUES ($1, $2, $3)
				ON CONFLICT (user_id) DO UPDATE SET via = excluded.via`, string(user), w.now, OptOutErased); err != nil {
				return err
			}
			if err := w.recount(ctx, user, was); err != nil {
				return err
			}
			return w.feedUser(ctx, user)
		})
		if err != nil {
			return 0, err
		}
	}
	const where = ` FROM events WHERE sender = $1 AND state_key IS NULL`
	n, err := s.deleteInBatches(ctx, dryRun, `SELECT COUNT(*)`+where, `SELECT `+victimColumns+where+` ORDER BY nid LIMIT $2`, TombstoneErased, nil, string(user))
	if err != nil {
		return n, err
	}
	var states int64
	if dryRun {
		ctx, cancel := s.readCtx(ctx)
		defer cancel()
		err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE `+ownStateSQL, string(user)).Scan(&states)
		if err != nil {
			return n, err
		}
		rooms, err := s.allRoomIDs(ctx)
		for _, room := range rooms {
			var k int64
			if err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE `+aboutUserSQL, string(room), string(user)).Scan(&k); err != nil {
				break
			}
			states += k
		}
		return n + states, err
	}
	rooms, err := s.allRoomIDs(ctx)
	if err != nil {
		return n, err
	}
	err = s.inWrite(ctx, func(w *writer) error {
		type st struct {
			nid           int64
			room, id, raw string
		}
		var all []st
		collect := func(query string, args ...any) error {
			rows, err := w.tx.QueryContext(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var x st
				if err := rows.Scan(&x.nid, &x.room, &x.id, &x.raw); err != nil {
					return err
				}
				all = append(all, x)
			}
			return rows.Err()
		}
		if err := collect(`SELECT nid, room_id, event_id, raw FROM events WHERE `+ownStateSQL, string(user)); err != nil {
			return err
		}
		// Room by room, so that the (room, type, state_key) index serves it.
		for _, room := range rooms {
			if err := collect(`SELECT nid, room_id, event_id, raw FROM events WHERE `+aboutUserSQL, string(room), string(user)); err != nil {
				return err
			}
		}
		// Their state events keep their place in the timeline, without the
		// name ingest copied into them. Each change below is fed, room by
		// room: a page or answer cached since the opt-out above (whose key
		// that moved) shows what is stripped here, and only a change of
		// its room's feed position moves its key (and its ETag) again.
		var named []st
		if err := func() error {
			rows, err := w.tx.QueryContext(ctx, `SELECT room_id, event_id FROM events WHERE sender = $1 AND sender_name <> ''`, string(user))
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var x st
				if err := rows.Scan(&x.room, &x.id); err != nil {
					return err
				}
				named = append(named, x)
			}
			return rows.Err()
		}(); err != nil {
			return err
		}
		if _, err := w.tx.ExecContext(ctx, `UPDATE events SET sender_name = '' WHERE sender = $1 AND sender_name <> ''`, string(user)); err != nil {
			return err
		}
		for _, x := range named {
			if err := w.feed(ctx, ChangeRenamed, id.RoomID(x.room), id.EventID(x.id)); err != nil {
				return err
			}
		}
		for _, x := range all {
			version, _, err := w.roomVersion(ctx, id.RoomID(x.room))
			if err != nil {
				return err
			}
			if err := w.stripEvent(ctx, x.nid, x.raw, version); err != nil {
				return err
			}
			if err := w.feed(ctx, ChangeRedacted, id.RoomID(x.room), id.EventID(x.id)); err != nil {
				return err
			}
			d, err := w.room(ctx, id.RoomID(x.room))
			if err != nil {
				return err
			}
			d.state = true
			states++
		}
		// The governing state they sent keeps only what governs.
		rows, err := w.tx.QueryContext(ctx, `SELECT nid, room_id, event_id, type, raw FROM events WHERE sender = $1 AND state_key IS NOT NULL AND NOT redacted AND type IN ('`+
			strings.Join(governingTypes, "', '")+`')`, string(user))
		if err != nil {
			return err
		}
		type rewrite struct {
			nid      int64
			room, id string
			raw      []byte
		}
		var rewrites []rewrite
		for rows.Next() {
			var nid int64
			var room, evID, typ, raw string
			if err := rows.Scan(&nid, &room, &evID, &typ, &raw); err != nil {
				rows.Close()
				return err
			}
			if out, changed := governingOnly([]byte(raw), typ); changed {
				rewrites = append(rewrites, rewrite{nid, room, evID, out})
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, r := range rewrites {
			if _, err := w.tx.ExecContext(ctx, `UPDATE events SET raw = $1 WHERE nid = $2`, dbText(string(r.raw)), r.nid); err != nil {
				return err
			}
			if err := w.feed(ctx, ChangeRedacted, id.RoomID(r.room), id.EventID(r.id)); err != nil {
				return err
			}
			states++
		}
		// What the database refused of theirs, kept aside as received.
		q, err := w.dropQuarantined(ctx, func(_ id.RoomID, ev *event.Event) bool {
			return ev.Sender == user || ev.Type == event.TypeMember && ev.StateKey != nil && *ev.StateKey == string(user)
		})
		states += q
		return err
	})
	return n + states, err
}

// ownStateSQL selects the unredacted state events a user ($1) sent that
// erasure strips: all but the room's governing state (governingTypes).
var ownStateSQL = `sender = $1 AND state_key IS NOT NULL AND NOT redacted AND type NOT IN ('` +
	strings.Join(governingTypes, "', '") + `')`

// governingTypes are the state events that govern a room rather than say
// something of their sender: erasing the admin who sent one leaves it.
// Stripped as a redaction strips, each lost what the archive reads of it:
// a retention policy (expired history shown again), the room version of a
// create event (rooms 1-10), the successor of a tombstone, the archive
// controls (an unlisted room listed), a space's children. Their member
// events, names, topics and anything else they sent go.
var governingTypes = []string{
	event.TypeCreate, event.TypePowerLevels, event.TypeJoinRules, event.TypeHistoryVisibility,
	event.TypeCanonicalAlias, event.TypeEncryption, event.TypeTombstone, event.TypeServerACL,
	event.TypeRetention, "org.matrix.msc1763.retention", "m.room.guest_access",
	event.TypeArchiveControls, event.TypeArchiveControlsUnstable, "m.space.child", "m.space.parent",
}

// governingKeys are the keys of each governing type's content that govern
// the room: erasure keeps those and drops the rest, which may be the
// erased admin's words (a tombstone's body, a key of their own).
var governingKeys = map[string][]string{
	event.TypeCreate:                  {"creator", "room_version", "predecessor", "type", "m.federate", "additional_creators"},
	event.TypePowerLevels:             {"ban", "events", "events_default", "invite", "kick", "redact", "state_default", "users", "users_default", "notifications"},
	event.TypeJoinRules:               {"join_rule", "allow"},
	event.TypeHistoryVisibility:       {"history_visibility"},
	event.TypeCanonicalAlias:          {"alias", "alt_aliases"},
	event.TypeEncryption:              {"algorithm", "rotation_period_ms", "rotation_period_msgs"},
	event.TypeTombstone:               {"replacement_room"},
	event.TypeServerACL:               {"allow", "deny", "allow_ip_literals"},
	event.TypeRetention:               {"max_lifetime", "min_lifetime"},
	"org.matrix.msc1763.retention":    {"max_lifetime", "min_lifetime"},
	"m.room.guest_access":             {"guest_access"},
	event.TypeArchiveControls:         {"archive", "robots"},
	event.TypeArchiveControlsUnstable: {"archive", "robots"},
	"m.space.child":                   {"via", "order", "suggested"},
	"m.space.parent":                  {"via", "canonical"},
}

// governingOnly is a governing event's JSON with only its governingKeys
// in its content, and whether that dropped anything.
func governingOnly(raw []byte, typ string) ([]byte, bool) {
	var ev map[string]json.RawMessage
	var content map[string]json.RawMessage
	if json.Unmarshal(raw, &ev) != nil || json.Unmarshal(ev["content"], &content) != nil {
		return raw, false
	}
	kept := map[string]json.RawMessage{}
	for _, k := range governingKeys[typ] {
		if v, ok := content[k]; ok {
			kept[k] = v
		}
	}
	if len(kept) == len(content) {
		return raw, false
	}
	c, err := json.Marshal(kept)
	if err != nil {
		return raw, false
	}
	ev["content"] = c
	out, err := json.Marshal(ev)
	return out, err == nil
}

// UserKnown reports whether the archive holds an event the user sent, a
// member event about them, or their opt-out: an operator command naming
// no such user is likely a typo (user IDs are case-sensitive).
func (s *Store) UserKnown(ctx context.Context, user id.UserID) (bool, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var known bool
	err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE sender = $1)
		OR EXISTS (SELECT 1 FROM optouts WHERE user_id = $1)`, string(user)).Scan(&known)
	if err != nil || known {
		return known, err
	}
	// Member events about them (an invite, a ban) room by room, so that
	// the (room, type, state_key) index serves it.
	rooms, err := s.allRoomIDs(ctx)
	if err != nil {
		return false, err
	}
	for _, room := range rooms {
		err := s.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2)`,
			string(room), string(user)).Scan(&known)
		if err != nil || known {
			return known, err
		}
	}
	return false, nil
}

// aboutUserSQL selects the unredacted member events about a user ($2) in a
// room ($1) that others sent.
const aboutUserSQL = `room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND sender <> $2 AND NOT redacted`

// OperatorAction is one entry of the operator log.
type OperatorAction struct {
	At       time.Time
	Actor    string // who ran it (the OS user, or what --by said)
	Command  string
	Target   string
	Reason   string
	DryRun   bool
	Affected int64
}

// LogOperator records an operator command.
func (s *Store) LogOperator(ctx context.Context, a OperatorAction) error {
	if a.Actor == "" {
		return errors.New("an operator action needs an actor")
	}
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	err := s.execWrite(ctx, func(ex execer) error {
		// A reason typed on the command line may hold any bytes.
		_, err := ex.ExecContext(ctx, `INSERT INTO operator_log (at, actor, command, target, reason, dry_run, affected) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			dbArgs([]any{a.At.UnixMilli(), a.Actor, a.Command, a.Target, a.Reason, a.DryRun, a.Affected})...)
		return err
	})
	if err != nil {
		return fmt.Errorf("log the operator's %s: %w", a.Command, err)
	}
	return nil
}

// OperatorLog returns the operator log, newest first.
func (s *Store) OperatorLog(ctx context.Context, limit int) ([]OperatorAction, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT at, actor, command, target, reason, dry_run, affected FROM operator_log ORDER BY at DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OperatorAction
	for rows.Next() {
		var a OperatorAction
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Command, &a.Target, &a.Reason, &a.DryRun, &a.Affected); err != nil {
			return nil, err
		}
		a.At = time.UnixMilli(at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// OperatorLogQuery filters the operator log; zero fields match everything.
type OperatorLogQuery struct {
	Since   time.Time
	Command string
	Target  string
	Limit   int
}

// FindOperatorLog returns the operator log entries matching q, newest
// first.
func (s *Store) FindOperatorLog(ctx context.Context, q OperatorLogQuery) ([]OperatorAction, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var since int64
	if !q.Since.IsZero() {
		since = q.Since.UnixMilli()
	}
	// A command on several users (optout --irc) names them all, with
	// commas: an entry names a target it holds among them.
	position := "strpos"
	if s.dialect == sqlite {
		position = "instr"
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, actor, command, target, reason, dry_run, affected FROM operator_log
		WHERE at >= $1 AND ($2 = '' OR command = $2) AND ($3 = '' OR target = $3 OR `+position+`(',' || target || ',', ',' || $3 || ',') > 0)
		ORDER BY at DESC LIMIT $4`,
		since, q.Command, q.Target, cmp.Or(q.Limit, 1000))
	if err != nil {
		return nil, fmt.Errorf("operator log: %w", err)
	}
	defer rows.Close()
	var out []OperatorAction
	for rows.Next() {
		var a OperatorAction
		var at int64
		if err := rows.Scan(&at, &a.Actor, &a.Command, &a.Target, &a.Reason, &a.DryRun, &a.Affected); err != nil {
			return nil, fmt.Errorf("operator log: %w", err)
		}
		a.At = time.UnixMilli(at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}
