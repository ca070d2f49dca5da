package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"maunium.net/go/mautrix/id"
)

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

// OptInSelf undoes only the user's own opt-out (OptOutByUser), and only one
// made before optedOutBefore (if not zero): a direct message must not
// undo what the operator decided, nor follow its opt-out at once. It
// reports whether the user was opted in; if not, OptOutVia says why.
func (s *Store) OptInSelf(ctx context.Context, user id.UserID, optedOutBefore time.Time) (bool, error) {
	before := int64(math.MaxInt64)
	if !optedOutBefore.IsZero() {
		before = optedOutBefore.UnixMilli()
	}
	return s.userChange(ctx, user, func(w *writer) (sql.Result, error) {
		return w.tx.ExecContext(ctx, `DELETE FROM optouts WHERE user_id = $1 AND via = $2 AND at <= $3`, string(user), OptOutByUser, before)
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

// userChange runs one statement on the opt-outs and, if it changed a row,
// appends the user's change so the index re-reads their messages.
func (s *Store) userChange(ctx context.Context, user id.UserID, exec func(w *writer) (sql.Result, error)) (bool, error) {
	changed := false
	err := s.inWrite(ctx, func(w *writer) error {
		was, err := w.optedOut(ctx, user)
		if err != nil {
			return err
		}
		res, err := exec(w)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if changed = n > 0; !changed {
			return nil
		}
		if err := w.recount(ctx, user, was); err != nil {
			return err
		}
		return w.feedUser(ctx, user)
	})
	return changed, err
}

// optedOutUsers loads the users who opted out, and when (ms, optouts.at),
// for screen's cache.
func (s *Store) optedOutUsers(ctx context.Context) (map[id.UserID]bool, map[id.UserID]int64, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, at FROM optouts`)
	if err != nil {
		return nil, nil, fmt.Errorf("load opt-outs: %w", err)
	}
	defer rows.Close()
	optouts, at := map[id.UserID]bool{}, map[id.UserID]int64{}
	for rows.Next() {
		var user string
		var ms int64
		if err := rows.Scan(&user, &ms); err != nil {
			return nil, nil, fmt.Errorf("load opt-outs: %w", err)
		}
		optouts[id.UserID(user)], at[id.UserID(user)] = true, ms
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("load opt-outs: %w", err)
	}
	return optouts, at, nil
}
