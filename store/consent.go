package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// consentTTL is how long a process trusts its copy of the rooms' retention
// policies and of the opt-outs. The other process (archiver or archive-web)
// may change them; within this time every read sees the change.
const consentTTL = time.Second

// consent caches what reads need to hide: each room's own max_lifetime and
// the users who opted out.
type consent struct {
	mu      sync.Mutex
	loaded  time.Time
	roomMax map[id.RoomID]int64
	optouts map[id.UserID]bool
}

// RefreshConsent makes the next read load opt-outs and retention policies
// from the database, for a reader that learns from the change feed that
// another process changed them.
func (s *Store) RefreshConsent() { s.consent.invalidate() }

func (c *consent) invalidate() {
	c.mu.Lock()
	c.loaded = time.Time{}
	c.mu.Unlock()
}

// view returns the current retention overrides and opt-outs, reloading them
// when older than consentTTL.
func (s *Store) consentView(ctx context.Context) (map[id.RoomID]int64, map[id.UserID]bool, error) {
	c := &s.consent
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.loaded.IsZero() && time.Since(c.loaded) < consentTTL {
		return c.roomMax, c.optouts, nil
	}
	roomMax := map[id.RoomID]int64{}
	rows, err := s.db.QueryContext(ctx, `SELECT room_id, retention_max_lifetime FROM rooms WHERE retention_max_lifetime IS NOT NULL`)
	if err != nil {
		return nil, nil, fmt.Errorf("load retention policies: %w", err)
	}
	for rows.Next() {
		var r string
		var v int64
		if err := rows.Scan(&r, &v); err != nil {
			rows.Close()
			return nil, nil, err
		}
		roomMax[id.RoomID(r)] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load retention policies: %w", err)
	}
	users, err := scanStrings(s.db.QueryContext(ctx, `SELECT user_id FROM optouts`))
	if err != nil {
		return nil, nil, fmt.Errorf("load opt-outs: %w", err)
	}
	optouts := make(map[id.UserID]bool, len(users))
	for _, u := range users {
		optouts[id.UserID(u)] = true
	}
	c.roomMax, c.optouts, c.loaded = roomMax, optouts, time.Now()
	return roomMax, optouts, nil
}

// maxLifetime is a room's effective max_lifetime under the operator's
// policy.
func (s *Store) maxLifetime(roomMax map[id.RoomID]int64, room id.RoomID) (time.Duration, bool) {
	var own *int64
	if v, ok := roomMax[room]; ok {
		own = &v
	}
	return s.opts.Retention.MaxLifetime(own)
}

// expiredBefore is the time (ms) before which a room's non-state events
// have expired; 0 when none expire.
func (s *Store) expiredBefore(roomMax map[id.RoomID]int64, room id.RoomID) int64 {
	d, ok := s.maxLifetime(roomMax, room)
	if !ok {
		return 0
	}
	return s.now().Add(-d).UnixMilli()
}

// Cutoffs is where retention stands now: a room's non-state events older
// than its cutoff (ms) have expired; 0: none have. Default applies to the
// rooms not in Rooms, which holds those with a policy of their own.
type Cutoffs struct {
	Default int64
	Rooms   map[id.RoomID]int64
}

// ExpiryCutoffs returns what screen hides as expired at this moment, for a
// reader (the search index) that must apply the same cutoffs itself.
func (s *Store) ExpiryCutoffs(ctx context.Context) (Cutoffs, error) {
	roomMax, _, err := s.consentView(ctx)
	if err != nil {
		return Cutoffs{}, err
	}
	c := Cutoffs{Rooms: make(map[id.RoomID]int64, len(roomMax))}
	if d, ok := s.opts.Retention.MaxLifetime(nil); ok {
		c.Default = s.now().Add(-d).UnixMilli()
	}
	for room := range roomMax {
		c.Rooms[room] = s.expiredBefore(roomMax, room)
	}
	return c, nil
}

// screen applies consent to events read from the database: an opted-out
// sender's events lose their content (OptedOut; a reaction its key), and
// expired non-state events are marked Expired and, unless keepExpired,
// dropped. State events stay (they place the room's history), but an
// opted-out user's display name leaves them: the name copied in as their
// sender's, and the profile in member events about them. Every read that
// returns events goes through it, so no route can show what the sender or
// the room's policy withdrew.
func (s *Store) screen(ctx context.Context, evs []Event, keepExpired bool) ([]Event, error) {
	if len(evs) == 0 {
		return evs, nil
	}
	roomMax, optouts, err := s.consentView(ctx)
	if err != nil {
		return nil, err
	}
	cutoffs := map[id.RoomID]int64{}
	out := evs[:0]
	for _, e := range evs {
		cut, ok := cutoffs[e.RoomID]
		if !ok {
			cut = s.expiredBefore(roomMax, e.RoomID)
			cutoffs[e.RoomID] = cut
		}
		if !e.IsState() && e.OriginTS < cut {
			if !keepExpired {
				continue
			}
			e.Expired = true
			e.withdraw()
		}
		switch {
		case optouts[e.Sender] && !e.IsState():
			e.OptedOut = true
			e.withdraw()
		case e.IsState():
			if optouts[e.Sender] {
				e.SenderName = ""
			}
			if e.Type == event.TypeMember && optouts[id.UserID(*e.StateKey)] {
				e.setContent(withdrawnProfile(e.Content, !optouts[e.Sender]))
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// withdraw removes an event's content, keeping what places it: IDs, sender,
// type, time and relation (a reaction's key is content: it goes).
func (e *Event) withdraw() {
	e.Content = json.RawMessage(`{}`)
	e.Raw, _ = json.Marshal(map[string]any{
		"event_id": e.ID, "room_id": e.RoomID, "sender": e.Sender, "type": e.Type,
		"origin_server_ts": e.OriginTS, "content": e.Content,
	})
	e.SenderName = ""
	e.Rel.Key = ""
}

// setContent replaces a state event's content, in Raw too, so that no
// reader of either sees the old one.
func (e *Event) setContent(c json.RawMessage) {
	e.Content = c
	raw := map[string]any{
		"event_id": e.ID, "room_id": e.RoomID, "sender": e.Sender, "type": e.Type,
		"origin_server_ts": e.OriginTS, "content": c,
	}
	if e.StateKey != nil {
		raw["state_key"] = *e.StateKey
	}
	e.Raw, _ = json.Marshal(raw)
}

// withdrawnProfile is a member event's content without its user's profile
// (display name, avatar): only the membership, and the reason when someone
// else gave it (keepReason; a moderator's words are not the user's).
func withdrawnProfile(content json.RawMessage, keepReason bool) json.RawMessage {
	out := map[string]string{"membership": event.StringField(content, "membership")}
	if r := event.StringField(content, "reason"); r != "" && keepReason {
		out["reason"] = r
	}
	b, _ := json.Marshal(out)
	return b
}

// withdrawnReason blanks the reason of a redaction whose sender opted out:
// its words are theirs. Who redacted, and when, stay: moderators need them,
// and the user ID is not the user's words.
func withdrawnReason(r *Redaction, optouts map[id.UserID]bool) {
	if optouts[r.Sender] {
		r.Reason = ""
	}
}

// Who opted a user out (optouts.via): the user by direct message, the
// operator, or the operator's erasure. Only the user's own opt-out may be
// undone by the user.
const (
	OptOutByUser     = "dm"
	OptOutByOperator = "operator"
	OptOutErased     = "erased"
)

// OptOut records that a user's messages must not be shown (via says how:
// OptOutByUser or OptOutByOperator) and appends a change so the index drops
// them. It reports whether the user was not already opted out (or was
// opted out only by themselves and now by the operator).
func (s *Store) OptOut(ctx context.Context, user id.UserID, via string) (bool, error) {
	return s.userChange(ctx, user, func(w *writer) (sql.Result, error) {
		// The operator's opt-out replaces the user's own, which the user
		// could otherwise undo; nothing replaces the operator's.
		return w.tx.ExecContext(ctx, `INSERT INTO optouts (user_id, at, via) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET via = excluded.via WHERE optouts.via = $4 AND excluded.via <> $4`,
			string(user), w.now, via, OptOutByUser)
	})
}

// OptIn undoes OptOut, whoever opted the user out (the operator's command).
func (s *Store) OptIn(ctx context.Context, user id.UserID) (bool, error) {
	return s.userChange(ctx, user, func(w *writer) (sql.Result, error) {
		return w.tx.ExecContext(ctx, `DELETE FROM optouts WHERE user_id = $1`, string(user))
	})
}

// OptInSelf undoes only the user's own opt-out (OptOutByUser): a direct
// message must not undo what the operator decided. It reports whether the
// user was opted in; if not, OptOutVia says why.
func (s *Store) OptInSelf(ctx context.Context, user id.UserID) (bool, error) {
	return s.userChange(ctx, user, func(w *writer) (sql.Result, error) {
		return w.tx.ExecContext(ctx, `DELETE FROM optouts WHERE user_id = $1 AND via = $2`, string(user), OptOutByUser)
	})
}

// OptOutVia returns who opted the user out (OptOutByUser, OptOutByOperator,
// OptOutErased), or "" if the user has not opted out.
func (s *Store) OptOutVia(ctx context.Context, user id.UserID) (string, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var via string
	err := s.db.QueryRowContext(ctx, `SELECT via FROM optouts WHERE user_id = $1`, string(user)).Scan(&via)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("opt-out of %s: %w", user, err)
	}
	return via, nil
}

// OptedOut reports whether a user has opted out.
func (s *Store) OptedOut(ctx context.Context, user id.UserID) (bool, error) {
	_, optouts, err := s.consentView(ctx)
	return optouts[user], err
}

// userChange runs one statement on the opt-outs and, if it changed a row,
// appends the user's change so the index re-reads their messages.
func (s *Store) userChange(ctx context.Context, user id.UserID, exec func(w *writer) (sql.Result, error)) (bool, error) {
	changed := false
	err := s.inWrite(ctx, func(w *writer) error {
		res, err := exec(w)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if changed = n > 0; changed {
			w.consentChanged = true
			return w.feedUser(ctx, user)
		}
		return nil
	})
	return changed, err
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
	// Only after the commit: a reload before it would cache the old state.
	if w.consentChanged {
		s.consent.invalidate()
	}
	return nil
}

// tombstoned returns which of ids were deleted on purpose (expired, purged,
// erased) and must not be stored again.
func (w *writer) tombstoned(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for len(ids) > 0 {
		n := min(len(ids), maxIDsPerQuery)
		ph, args := inList(ids[:n])
		gone, err := scanStrings(w.tx.QueryContext(ctx, `SELECT event_id FROM tombstones WHERE event_id IN (`+ph+`)`, args...))
		if err != nil {
			return nil, err
		}
		for _, e := range gone {
			out[e] = true
		}
		ids = ids[n:]
	}
	return out, nil
}
