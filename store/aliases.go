package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"
)

// Aliases: m.room.canonical_alias is room state any room admin sets, so it
// is only a claim (alias_claims). An alias routes URLs (room_aliases, at
// most one room per alias) only when the homeserver's directory resolves
// it to the claiming room, or, for an imported room, when no other room
// claims it. Routes outlive claims, so old links keep resolving; an alias
// moves to another room only when verified for that room.

const (
	// routedAliasColumn is a room's canonical alias when that alias routes
	// to the room: the room's URL slug. Part of roomColumns.
	routedAliasColumn = `COALESCE((SELECT ra.alias FROM room_aliases ra
		WHERE ra.alias = rooms.canonical_alias AND ra.room_id = rooms.room_id), '')`
	roomAliasSQL   = `SELECT room_id FROM room_aliases WHERE alias = $1`
	upsertClaimSQL = `INSERT INTO alias_claims (alias, room_id, event_id, claimed_ts) VALUES ($1, $2, $3, $4)
		ON CONFLICT (alias, room_id) DO UPDATE SET event_id = excluded.event_id, claimed_ts = excluded.claimed_ts,
			checked_ts = 0, outcome = ''
		WHERE alias_claims.event_id <> excluded.event_id`
	dropStaleClaimsSQL = `DELETE FROM alias_claims WHERE room_id = $1 AND event_id <> $2`
	pendingClaimsSQL   = `SELECT alias, room_id, event_id FROM alias_claims
		WHERE checked_ts < $1 OR (outcome = 'failed' AND checked_ts < $2)
		ORDER BY checked_ts, claimed_ts, alias, room_id LIMIT $3`
	checkClaimSQL = `UPDATE alias_claims SET checked_ts = $4, outcome = $5
		WHERE alias = $1 AND room_id = $2 AND event_id = $3`
	routeOfSQL = `SELECT room_id, how FROM room_aliases WHERE alias = $1`
	// liveRouteOfSQL is routeOfSQL but for a purged room's route, which
	// stays only so that old links answer 410 (PurgeRoom).
	liveRouteOfSQL = `SELECT room_id, how FROM room_aliases ra WHERE alias = $1
		AND NOT EXISTS (SELECT 1 FROM rooms r WHERE r.room_id = ra.room_id AND r.purged)`
	routeSQL = `INSERT INTO room_aliases (alias, room_id, seen_ts, how) VALUES ($1, $2, $3, $4)
		ON CONFLICT (alias) DO UPDATE SET room_id = excluded.room_id, seen_ts = excluded.seen_ts, how = excluded.how`
	unrouteSQL        = `DELETE FROM room_aliases WHERE alias = $1 AND room_id = $2`
	otherClaimantSQL  = `SELECT room_id FROM alias_claims WHERE alias = $1 AND room_id <> $2 ORDER BY room_id LIMIT 1`
	roomClaimsSQL     = `SELECT alias FROM alias_claims WHERE room_id = $1 ORDER BY alias`
	claimExistsSQL    = `SELECT 1 FROM alias_claims WHERE alias = $1 AND room_id = $2 AND event_id = $3`
	routeByDirectory  = "directory"
	routeByUnclaimed  = "unclaimed"
	maxPendingClaims  = 1000
	maxClaimsPerRoom  = 20
	outcomeVerified   = "verified"
	outcomeElsewhere  = "elsewhere"
	outcomeUnresolved = "unresolved"
	outcomeFailed     = "failed"
)

// recordClaims replaces a room's alias claims with those of its latest
// canonical_alias event (evID). A claim already recorded from that event
// keeps its verification; a new event makes its claims pending again.
func (w *writer) recordClaims(ctx context.Context, room id.RoomID, evID id.EventID, aliases []string) error {
	// Each claim costs a directory lookup: a room claiming thousands of
	// aliases gets its first few considered.
	if len(aliases) > maxClaimsPerRoom {
		w.s.log.Warn("room claims too many aliases; only the first are considered", "room_id", room, "event_id", evID,
			"aliases", len(aliases), "considered", maxClaimsPerRoom)
		aliases = aliases[:maxClaimsPerRoom]
	}
	for _, a := range aliases {
		if !validAlias(a) {
			continue
		}
		if _, err := w.tx.ExecContext(ctx, upsertClaimSQL, a, string(room), string(evID), w.now); err != nil {
			return fmt.Errorf("record alias claim: %w", err)
		}
	}
	if _, err := w.tx.ExecContext(ctx, dropStaleClaimsSQL, string(room), string(evID)); err != nil {
		return fmt.Errorf("drop stale alias claims: %w", err)
	}
	return nil
}

// validAlias accepts #localpart:server, the only form worth asking the
// directory about.
func validAlias(a string) bool {
	local, server, ok := strings.Cut(a, ":")
	return ok && len(local) > 1 && local[0] == '#' && server != "" && len(a) <= 255
}

// AliasClaim is a room's state claiming an alias, from one
// m.room.canonical_alias event.
type AliasClaim struct {
	Alias   string
	RoomID  id.RoomID
	EventID id.EventID
}

// PendingAliasClaims returns claims the homeserver's directory has not been
// asked about since their state event arrived, then those last asked about
// before checkedBefore (the directory can change without the room's state
// changing) and those whose lookup failed before failedBefore (DeferAliasClaim),
// at most limit, least recently checked first. Zero times select none of
// the latter two.
func (s *Store) PendingAliasClaims(ctx context.Context, checkedBefore, failedBefore time.Time, limit int) ([]AliasClaim, error) {
	if limit <= 0 || limit > maxPendingClaims {
		limit = maxPendingClaims
	}
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return 1 // checked_ts 0: never asked
		}
		return max(1, t.UnixMilli())
	}
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, pendingClaimsSQL, ms(checkedBefore), ms(failedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("pending alias claims: %w", err)
	}
	defer rows.Close()
	var out []AliasClaim
	for rows.Next() {
		var c AliasClaim
		var room, ev string
		if err := rows.Scan(&c.Alias, &room, &ev); err != nil {
			return nil, fmt.Errorf("pending alias claims: %w", err)
		}
		c.RoomID, c.EventID = id.RoomID(room), id.EventID(ev)
		out = append(out, c)
	}
	return out, rows.Err()
}

// AliasOutcome is what checking a claim against the directory did.
type AliasOutcome int

const (
	// AliasRouted: the directory resolves the alias to the claiming room,
	// which now owns the alias's URLs.
	AliasRouted AliasOutcome = iota + 1
	// AliasElsewhere: the directory resolves it to another room; the claim
	// routes nothing (and an unverified route to the claimant is dropped).
	AliasElsewhere
	// AliasUnresolved: the directory does not know the alias; the claim
	// routes nothing new, and an existing route stays.
	AliasUnresolved
	// AliasStale: the room's claims changed since the directory was asked;
	// the newer claim is still pending.
	AliasStale
)

// AliasCheck reports a directory check.
type AliasCheck struct {
	Outcome AliasOutcome
	// Previous is the room the alias routed to before it moved to the
	// claimant (AliasRouted), or the unverified route dropped
	// (AliasElsewhere); empty otherwise.
	Previous id.RoomID
}

// CheckAliasClaim records what the homeserver's directory answered for a
// claim: resolved is the room the alias points to ("" if the directory
// does not know it). A verified claim takes the alias's route, from
// whichever room had it; a disproved one loses a route it had only
// because nobody else claimed the alias. A route the directory verified
// once stays until the alias is verified for another room: permalinks
// are forever, and a vanished alias is not proof of another owner.
func (s *Store) CheckAliasClaim(ctx context.Context, c AliasClaim, resolved id.RoomID) (AliasCheck, error) {
	var out AliasCheck
	err := s.inWrite(ctx, func(w *writer) error {
		var one int
		err := w.tx.QueryRowContext(ctx, claimExistsSQL, c.Alias, string(c.RoomID), string(c.EventID)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			out.Outcome = AliasStale
			return nil
		}
		if err != nil {
			return err
		}
		var routed, how string
		switch err := w.tx.QueryRowContext(ctx, routeOfSQL, c.Alias).Scan(&routed, &how); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		}
		outcome := outcomeUnresolved
		switch {
		case resolved == c.RoomID:
			outcome, out.Outcome = outcomeVerified, AliasRouted
			if routed != string(c.RoomID) {
				out.Previous = id.RoomID(routed)
			}
			if _, err := w.tx.ExecContext(ctx, routeSQL, c.Alias, string(c.RoomID), w.now, routeByDirectory); err != nil {
				return err
			}
		case resolved != "":
			outcome, out.Outcome = outcomeElsewhere, AliasElsewhere
			if routed == string(c.RoomID) && how != routeByDirectory {
				out.Previous = c.RoomID
				if _, err := w.tx.ExecContext(ctx, unrouteSQL, c.Alias, string(c.RoomID)); err != nil {
					return err
				}
			}
		default:
			out.Outcome = AliasUnresolved
		}
		_, err = w.tx.ExecContext(ctx, checkClaimSQL, c.Alias, string(c.RoomID), string(c.EventID), w.now, outcome)
		return err
	})
	if err != nil {
		return AliasCheck{}, fmt.Errorf("check alias %s for room %s: %w", c.Alias, c.RoomID, err)
	}
	return out, nil
}

// DeferAliasClaim records that the directory could not answer about a claim
// (Dendrite answers 500 when the alias's own server is unreachable): it
// routes nothing new and is asked about again once failedBefore (see
// PendingAliasClaims) passes, so one unanswerable claim cannot hold back
// the others.
func (s *Store) DeferAliasClaim(ctx context.Context, c AliasClaim) error {
	err := s.inWrite(ctx, func(w *writer) error {
		_, err := w.tx.ExecContext(ctx, checkClaimSQL, c.Alias, string(c.RoomID), string(c.EventID), w.now, outcomeFailed)
		return err
	})
	if err != nil {
		return fmt.Errorf("defer alias %s for room %s: %w", c.Alias, c.RoomID, err)
	}
	return nil
}

// AliasConflict is an alias a room claims that routes elsewhere or that
// another room claims too.
type AliasConflict struct {
	Alias string
	// Other is the room the alias routes to, or another claimant.
	Other id.RoomID
}

// RouteUnclaimedAliases routes each alias the room claims to it where no
// other room routes (a purged room's route does not count) or claims it:
// the rule for imports, which have no homeserver to ask. The claims stay
// pending, so an archiver that can ask the directory later still does. It
// returns the claims it did not route.
func (s *Store) RouteUnclaimedAliases(ctx context.Context, room id.RoomID) ([]AliasConflict, error) {
	var conflicts []AliasConflict
	err := s.inWrite(ctx, func(w *writer) error {
		conflicts = nil
		rows, err := w.tx.QueryContext(ctx, roomClaimsSQL, string(room))
		if err != nil {
			return err
		}
		var aliases []string
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				rows.Close()
				return err
			}
			aliases = append(aliases, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range aliases {
			var routed, how string
			switch err := w.tx.QueryRowContext(ctx, liveRouteOfSQL, a).Scan(&routed, &how); {
			case err == nil && routed == string(room):
				continue
			case err == nil:
				conflicts = append(conflicts, AliasConflict{Alias: a, Other: id.RoomID(routed)})
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			var other string
			switch err := w.tx.QueryRowContext(ctx, otherClaimantSQL, a, string(room)).Scan(&other); {
			case err == nil:
				conflicts = append(conflicts, AliasConflict{Alias: a, Other: id.RoomID(other)})
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if _, err := w.tx.ExecContext(ctx, routeSQL, a, string(room), w.now, routeByUnclaimed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("route aliases of %s: %w", room, err)
	}
	return conflicts, nil
}

// RoomIDByAlias resolves an alias (with its '#') to the one room it routes
// to; ErrNotFound if it routes nowhere (unknown, or only claimed).
func (s *Store) RoomIDByAlias(ctx context.Context, alias string) (id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	var roomID string
	err := s.queryRow(ctx, roomAliasSQL, alias).Scan(&roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("alias %s: %w", alias, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("alias %s: %w", alias, err)
	}
	return id.RoomID(roomID), nil
}

// AliasRoutes is the room each of aliases routes to (RoomIDByAlias), for
// those that route anywhere, in a query per maxIDsPerQuery of them: a
// list of rooms asks for every room's alternative addresses at once, not
// a lookup each.
func (s *Store) AliasRoutes(ctx context.Context, aliases []string) (map[string]id.RoomID, error) {
	out := make(map[string]id.RoomID, len(aliases))
	for len(aliases) > 0 {
		n := min(len(aliases), maxIDsPerQuery)
		list, args, err := idList(s.dialect, aliases[:n])
		if err != nil {
			return nil, fmt.Errorf("alias routes: %w", err)
		}
		if err := func() error {
			ctx, cancel := s.readCtx(ctx)
			defer cancel()
			rows, err := s.query(ctx, `SELECT alias, room_id FROM room_aliases WHERE alias IN (`+list+`)`, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var alias, room string
				if err := rows.Scan(&alias, &room); err != nil {
					return err
				}
				out[alias] = id.RoomID(room)
			}
			return rows.Err()
		}(); err != nil {
			return nil, fmt.Errorf("alias routes: %w", err)
		}
		aliases = aliases[n:]
	}
	return out, nil
}
