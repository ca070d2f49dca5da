package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"maunium.net/go/mautrix/id"
)

// maxSpaceChildren bounds the m.space.child events SpaceChildren reads: a
// hostile space admin could add thousands of children.
const maxSpaceChildren = 10000

// spaceChildrenSQL reads every space's child events sent in time
// (sentInTimeSQL), in the order that leaves each (space, child) pair's
// latest last.
const spaceChildrenSQL = `SELECT room_id, state_key, raw FROM events
	WHERE type = 'm.space.child' AND state_key IS NOT NULL AND state_key <> '' AND public AND NOT redacted
	  AND ` + sentInTimeSQL + `
	ORDER BY room_id, state_key, origin_ts, nid LIMIT $1`

// SpaceChildren maps each archived space to the rooms its current
// m.space.child state names (a child whose latest event has no "via" was
// removed, as the spec says), as far as the archive holds that state. The
// store does not say whether either room is shown.
func (s *Store) SpaceChildren(ctx context.Context) (map[id.RoomID][]id.RoomID, error) {
	ctx, cancel := s.readCtx(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, spaceChildrenSQL, maxSpaceChildren)
	if err != nil {
		return nil, fmt.Errorf("space children: %w", err)
	}
	defer rows.Close()
	type pair struct{ space, child string }
	latest := map[pair]bool{}
	var order []pair
	for rows.Next() {
		var space, child string
		var raw sql.RawBytes
		if err := rows.Scan(&space, &child, &raw); err != nil {
			return nil, fmt.Errorf("space children: %w", err)
		}
		var ev struct {
			Content struct {
				Via []json.RawMessage `json:"via"`
			} `json:"content"`
		}
		_ = json.Unmarshal(raw, &ev) // a malformed child counts as removed
		p := pair{space, child}
		if _, ok := latest[p]; !ok {
			order = append(order, p)
		}
		latest[p] = len(ev.Content.Via) > 0
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("space children: %w", err)
	}
	out := map[id.RoomID][]id.RoomID{}
	for _, p := range order {
		if latest[p] {
			out[id.RoomID(p.space)] = append(out[id.RoomID(p.space)], id.RoomID(p.child))
		}
	}
	return out, nil
}
