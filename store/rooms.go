package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/retention"
)

const (
	roomColumns = `room_id, room_version, creator, create_event_id, name, topic, avatar_url,
		canonical_alias, alt_aliases, join_rule, history_visibility, encrypted,
		predecessor_room_id, successor_room_id, hidden, hidden_reason, bot_membership, message_count, first_ts, last_ts,
		retention_max_lifetime, purged, ` + routedAliasColumn
	// The directory: rooms with messages that are Shown() (the
	// rest of that test is in Go: it depends on the operator's policy).
	listRoomsSQL = `SELECT ` + roomColumns + ` FROM rooms WHERE NOT hidden AND NOT purged AND message_count > 0
		AND bot_membership IN ('', 'join')
		ORDER BY last_ts DESC, room_id`
	getRoomSQL     = `SELECT ` + roomColumns + ` FROM rooms WHERE room_id = $1`
	latestStateSQL = `SELECT event_id, sender, raw FROM events
		WHERE room_id = $1 AND type = $2 AND state_key = '' AND ` + sentInTimeSQL + ` ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	// latestPublicStateSQL is latestStateSQL among the events judged
	// public (sent while the history was world-readable): what a room no
	// longer world-readable shows of itself (refreshRoom).
	latestPublicStateSQL = `SELECT event_id, sender, raw FROM events
		WHERE room_id = $1 AND type = $2 AND state_key = '' AND public AND ` + sentInTimeSQL + ` ORDER BY origin_ts DESC, nid DESC LIMIT 1`
	fallbackMetaSQL = `UPDATE rooms SET
		name = CASE WHEN name = '' THEN $2 ELSE name END,
		topic = CASE WHEN topic = '' THEN $3 ELSE topic END WHERE room_id = $1 AND NOT purged`
)

// summaryTypes are the types of the state events (with the empty state
// key) that refreshRoom reads, latestRetentionSQL's two among them.
var summaryTypes = map[string]bool{
	event.TypeCreate: true, event.TypeName: true, event.TypeTopic: true, event.TypeAvatar: true,
	event.TypeJoinRules: true, event.TypeHistoryVisibility: true, event.TypeTombstone: true,
	event.TypeEncryption: true, event.TypeCanonicalAlias: true,
	event.TypeRetention: true, "org.matrix.msc1763.retention": true,
}

// changesSummary reports whether a state event of type typ with the state
// key key (stored or redacted) can change what refreshRoom computes: one
// of summaryTypes with the empty key, or the archive's own member event.
// Other state, a room's members above all, leaves the summary as it was,
// and recomputing it costs a dozen queries a room: an import of many
// rooms' joins spent a quarter of its time there.
func (w *writer) changesSummary(typ, key string) bool {
	if typ == event.TypeMember {
		return w.s.bot != "" && key == string(w.s.bot)
	}
	return key == "" && summaryTypes[typ]
}

// refreshRoom recomputes a room's summary from its latest state events. A
// field whose state event does not exist keeps its value (an import may
// have set a name from outside the timeline); a redacted one empties it.
// It reads only what changesSummary watches for.
func (w *writer) refreshRoom(ctx context.Context, room id.RoomID) error {
	sets := map[string]any{}
	latestOf := func(query, typ string) (id.EventID, id.UserID, json.RawMessage, bool, error) {
		if !summaryTypes[typ] {
			// Whatever refreshRoom reads must make changesSummary call it.
			return "", "", nil, false, fmt.Errorf("room summary reads %s, which summaryTypes lacks", typ)
		}
		var evID, sender, content string
		err := w.tx.QueryRowContext(ctx, query, string(room), typ).Scan(&evID, &sender, &content)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", nil, false, nil
		}
		return id.EventID(evID), id.UserID(sender), event.ContentOf([]byte(content)), err == nil, err
	}
	latest := func(typ string) (id.EventID, id.UserID, json.RawMessage, bool, error) {
		return latestOf(latestStateSQL, typ)
	}
	if evID, sender, c, ok, err := latest(event.TypeCreate); err != nil {
		return err
	} else if ok {
		v := event.StringField(c, "room_version")
		if v == "" {
			v = "1"
		}
		sets["room_version"], sets["creator"], sets["create_event_id"] = v, string(sender), string(evID)
		var pred struct {
			Predecessor struct {
				RoomID string `json:"room_id"`
			} `json:"predecessor"`
		}
		if json.Unmarshal(c, &pred) == nil {
			sets["predecessor_room_id"] = pred.Predecessor.RoomID
		}
	}
	// The visibility first: a room whose history is no longer
	// world-readable (shown under show_formerly_public) shows the name,
	// topic and avatar it last had while it was, not those set since,
	// which are as private as what was said then ("Layoffs list
	// (confidential)"). Where no public one exists the column keeps what
	// it showed while public. A room without a visibility event (an IRC
	// import's, vouched for, whose made state is not shown) is as before.
	simple := []struct {
		typ, key, column string
		shown            bool // what the room says of itself, to readers
	}{
		{event.TypeHistoryVisibility, "history_visibility", "history_visibility", false},
		{event.TypeName, "name", "name", true},
		{event.TypeTopic, "topic", "topic", true},
		{event.TypeAvatar, "url", "avatar_url", true},
		{event.TypeJoinRules, "join_rule", "join_rule", false},
		{event.TypeTombstone, "replacement_room", "successor_room_id", false},
	}
	var arrived string
	if err := w.tx.QueryRowContext(ctx, arrivedVisibilitySQL, string(room)).Scan(&arrived); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for _, f := range simple {
		query := latestStateSQL
		if hv, ok := sets["history_visibility"]; f.shown && ok && hv != "world_readable" {
			query = latestPublicStateSQL
		}
		_, _, c, ok, err := latestOf(query, f.typ)
		if err != nil {
			return err
		}
		if ok {
			sets[f.column] = event.StringField(c, f.key)
		}
		if f.column == "history_visibility" && arrived != "" && arrived != event.WorldReadable {
			// The visibility that came last in the room's order is not
			// world_readable: the room is not public, whatever the
			// events' timestamps say (a "joined" stamped in 2100, which
			// current state passes over, or a "world_readable" stamped
			// before it).
			sets[f.column] = arrived
		}
	}
	if v, ok := sets["history_visibility"]; ok && v == "" {
		sets["history_visibility"] = "shared" // the spec's default for a missing value
	}
	var retentionRaw string
	switch err := w.tx.QueryRowContext(ctx, latestRetentionSQL, string(room)).Scan(&retentionRaw); {
	case err == nil:
		sets["retention_max_lifetime"] = retention.RoomMaxLifetime(event.ContentOf([]byte(retentionRaw)))
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	if _, _, _, ok, err := latest(event.TypeEncryption); err != nil {
		return err
	} else if ok {
		sets["encrypted"] = true // even a redacted m.room.encryption keeps a room encrypted
	}
	if evID, _, c, ok, err := latest(event.TypeCanonicalAlias); err != nil {
		return err
	} else if ok {
		var ca struct {
			Alias      string   `json:"alias"`
			AltAliases []string `json:"alt_aliases"`
		}
		_ = json.Unmarshal(c, &ca) // a malformed alias event means no alias
		alt, _ := json.Marshal(nonNil(ca.AltAliases))
		sets["canonical_alias"], sets["alt_aliases"] = ca.Alias, string(alt)
		// Only claims: they route URLs once verified (aliases.go).
		if err := w.recordClaims(ctx, room, evID, append([]string{ca.Alias}, ca.AltAliases...)); err != nil {
			return err
		}
	}
	if w.s.bot != "" {
		var raw string
		err := w.tx.QueryRowContext(ctx, currentStateSQL, string(room), event.TypeMember, string(w.s.bot)).Scan(&raw)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil {
			sets["bot_membership"] = event.StringField(event.ContentOf([]byte(raw)), "membership")
		}
	}
	if len(sets) == 0 {
		return nil
	}
	before, err := scanRoom(w.tx.QueryRowContext(ctx, getRoomSQL, string(room)))
	if err != nil {
		return err
	}
	before = w.s.withPolicy(before)
	cols := make([]string, 0, len(sets))
	args := []any{string(room)}
	for col, v := range sets {
		args = append(args, v)
		cols = append(cols, fmt.Sprintf("%s = $%d", col, len(args)))
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE rooms SET `+strings.Join(cols, ", ")+` WHERE room_id = $1`, args...); err != nil {
		return err
	}
	after, err := scanRoom(w.tx.QueryRowContext(ctx, getRoomSQL, string(room)))
	if err != nil {
		return err
	}
	after = w.s.withPolicy(after)
	if before.MaxLifetime != after.MaxLifetime || !sameMax(before.OwnMaxLifetime, after.OwnMaxLifetime) {
		// A new retention policy applies to all history at once: the
		// index re-reads the room, and every process reloads the policies
		// it screens with (store/screen.go), the room's own value too: a
		// process with other clamps may resolve it differently.
		w.s.log.Info("room retention policy changed", "room_id", room, "max_lifetime", after.MaxLifetime)
		return w.feed(ctx, ChangeHidden, room, "")
	}
	if before.Shown() != after.Shown() {
		w.s.log.Info("room availability changed", "room_id", room, "shown", after.Shown(), "reason", after.Hiding().String())
		return w.feed(ctx, ChangeHidden, room, "")
	}
	return nil
}

func sameMax(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanRoom(sc interface{ Scan(...any) error }) (Room, error) {
	var r Room
	var roomID, creator, createID, alt, pred, succ string
	var ownMax sql.NullInt64
	err := sc.Scan(&roomID, &r.Version, &creator, &createID, &r.Name, &r.Topic, &r.AvatarURL,
		&r.CanonicalAlias, &alt, &r.JoinRule, &r.HistoryVisibility, &r.Encrypted,
		&pred, &succ, &r.Hidden, &r.HiddenReason, &r.BotMembership, &r.MessageCount, &r.FirstTS, &r.LastTS,
		&ownMax, &r.Purged, &r.Alias)
	if err != nil {
		return Room{}, err
	}
	r.ID, r.Creator, r.CreateEventID = id.RoomID(roomID), id.UserID(creator), id.EventID(createID)
	r.Predecessor, r.Successor = id.RoomID(pred), id.RoomID(succ)
	_ = json.Unmarshal([]byte(alt), &r.AltAliases) // written by refreshRoom, always a JSON array
	if ownMax.Valid {
		r.OwnMaxLifetime = &ownMax.Int64
	}
	return r, nil
}

// withPolicy completes a room read from the database with what the
// operator's policy decides.
func (s *Store) withPolicy(r Room) Room {
	r.MaxLifetime, _ = s.opts.Retention.MaxLifetime(r.OwnMaxLifetime)
	r.showFormerlyPublic = s.opts.ShowFormerlyPublic
	return r
}

// Rooms lists the rooms the directory shows: not hidden, with messages,
// most recently active first.
func (s *Store) Rooms(ctx context.Context) ([]Room, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, listRoomsSQL)
	if err != nil {
		return nil, fmt.Errorf("list rooms: %w", err)
	}
	defer rows.Close()
	var out []Room
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return nil, fmt.Errorf("list rooms: %w", err)
		}
		if r = s.withPolicy(r); r.Shown() {
			out = append(out, r)
		}
	}
	return out, rows.Err()
}

// Room returns one room, hidden or not; ErrNotFound if unknown.
func (s *Store) Room(ctx context.Context, roomID id.RoomID) (Room, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	r, err := scanRoom(s.queryRow(ctx, getRoomSQL, string(roomID)))
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, fmt.Errorf("room %s: %w", roomID, ErrNotFound)
	}
	if err != nil {
		return Room{}, fmt.Errorf("room %s: %w", roomID, err)
	}
	return s.withPolicy(r), nil
}

// RoomsByID returns the rooms of the given IDs that the store knows,
// hidden or not, in one query per few hundred: a search's hits name a
// dozen rooms, and a query each was a round trip each on PostgreSQL.
func (s *Store) RoomsByID(ctx context.Context, ids []id.RoomID) (map[id.RoomID]Room, error) {
	out := make(map[id.RoomID]Room, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		list, args, err := idList(s.dialect, ids[:n])
		if err != nil {
			return nil, fmt.Errorf("rooms by id: %w", err)
		}
		if err := s.roomsIn(ctx, list, args, out); err != nil {
			return nil, fmt.Errorf("rooms by id: %w", err)
		}
		ids = ids[n:]
	}
	return out, nil
}

// RoomsByIDListed is RoomsByID, with whether each room's archive
// controls ask not to be listed (ArchiveControls' Unlisted) read in the
// same query: a search of every room leaves such rooms out, and a query
// more was a round trip more on PostgreSQL for every search.
func (s *Store) RoomsByIDListed(ctx context.Context, ids []id.RoomID) (map[id.RoomID]Room, map[id.RoomID]bool, error) {
	out := make(map[id.RoomID]Room, len(ids))
	unlisted := map[id.RoomID]bool{}
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		list, args, err := idList(s.dialect, ids[:n])
		if err != nil {
			return nil, nil, fmt.Errorf("rooms by id: %w", err)
		}
		if err := s.roomsListedIn(ctx, list, args, out, unlisted); err != nil {
			return nil, nil, fmt.Errorf("rooms by id: %w", err)
		}
		ids = ids[n:]
	}
	return out, unlisted, nil
}

// latestControlsSQL is the raw JSON of the room's latest archive controls
// state event of the type %s (archiveControlsSQL's probe).
var latestControlsSQL = `(SELECT l.raw FROM events l WHERE l.room_id = rooms.room_id AND l.type = '%s' AND l.state_key = '' AND ` + sentInTimeOf("l.") + `
		ORDER BY l.origin_ts DESC, l.nid DESC LIMIT 1)`

func (s *Store) roomsListedIn(ctx context.Context, ph string, args []any, out map[id.RoomID]Room, unlisted map[id.RoomID]bool) error {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.query(ctx, `SELECT `+roomColumns+`, `+fmt.Sprintf(latestControlsSQL, event.TypeArchiveControls)+`, `+
		fmt.Sprintf(latestControlsSQL, event.TypeArchiveControlsUnstable)+` FROM rooms WHERE room_id IN (`+ph+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var stable, unstable sql.NullString
		r, err := scanRoom(extraColumns{rows, []any{&stable, &unstable}})
		if err != nil {
			return err
		}
		out[r.ID] = s.withPolicy(r)
		if controlsUnlisted(stable, unstable) {
			unlisted[r.ID] = true
		}
	}
	return rows.Err()
}

// unlistedRooms reads which rooms' archive controls ask not to be listed,
// as RoomsByIDListed does for some, for all rooms: two index probes a
// room, read when the consent copy is (consentNow).
func (s *Store) unlistedRooms(ctx context.Context) (map[id.RoomID]bool, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.query(ctx, `SELECT room_id, `+fmt.Sprintf(latestControlsSQL, event.TypeArchiveControls)+`, `+
		fmt.Sprintf(latestControlsSQL, event.TypeArchiveControlsUnstable)+` FROM rooms`)
	if err != nil {
		return nil, fmt.Errorf("rooms not listed: %w", err)
	}
	defer rows.Close()
	out := map[id.RoomID]bool{}
	for rows.Next() {
		var room string
		var stable, unstable sql.NullString
		if err := rows.Scan(&room, &stable, &unstable); err != nil {
			return nil, fmt.Errorf("rooms not listed: %w", err)
		}
		if controlsUnlisted(stable, unstable) {
			out[id.RoomID(room)] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rooms not listed: %w", err)
	}
	return out, nil
}

// controlsUnlisted reads the latest archive controls of the stable type,
// else of the unstable type (ArchiveControls), for whether they ask not to
// be listed.
func controlsUnlisted(stable, unstable sql.NullString) bool {
	raw := stable
	if !raw.Valid {
		raw = unstable
	}
	return raw.Valid && event.ParseArchiveControls(event.ContentOf([]byte(raw.String))).Unlisted
}

// extraColumns scans a row's columns into scanRoom's, then into extra.
type extraColumns struct {
	rows  *sql.Rows
	extra []any
}

func (e extraColumns) Scan(dest ...any) error { return e.rows.Scan(append(dest, e.extra...)...) }

func (s *Store) roomsIn(ctx context.Context, ph string, args []any, out map[id.RoomID]Room) error {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.query(ctx, `SELECT `+roomColumns+` FROM rooms WHERE room_id IN (`+ph+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRoom(rows)
		if err != nil {
			return err
		}
		out[r.ID] = s.withPolicy(r)
	}
	return rows.Err()
}

// SetFallbackMeta gives a room a name and topic from outside its timeline
// (an export's header) where its state provides none; a purged room takes
// nothing (an export imported again gave it back its name and topic).
func (s *Store) SetFallbackMeta(ctx context.Context, roomID id.RoomID, name, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, s.writeTimeout)
	defer cancel()
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return fmt.Errorf("set room meta: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, insertRoomSQL, string(roomID)); err != nil {
		return fmt.Errorf("set room meta: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fallbackMetaSQL, string(roomID), dbText(name), dbText(topic)); err != nil {
		return fmt.Errorf("set room meta: %w", err)
	}
	return tx.Commit()
}

// ArrivedVisibility is the room's history visibility in its order: the
// last pushed (Event.Arrived), unless a visibility event stored since is
// stamped after it came (a later change); "" where not known.
func (s *Store) ArrivedVisibility(ctx context.Context, room id.RoomID) (string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var v string
	err := s.queryRow(ctx, arrivedVisibilitySQL, string(room)).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("arrived visibility of %s: %w", room, err)
	}
	return v, nil
}
