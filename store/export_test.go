package store

import (
	"context"
	"database/sql"
)

// Refused exposes the test that tells a refused value from an outage.
var Refused = refused

// Conn takes one connection from the pool.
func (s *Store) Conn(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }

// TimelineMessageSQL exposes the SQL statement of "a timeline message", so
// a test can hold it to Event.Displayable.
const TimelineMessageSQL = timelineMessageSQL

// ReadStateSQL exposes the query of a room's change-feed position and
// sync state, for a test of its plan.
const ReadStateSQL = readStateSQL
