package store

import (
	"context"
	"database/sql"
	"time"
)

// SetLockCheckInterval lets tests see a lost archiver lock quickly.
func SetLockCheckInterval(d time.Duration) func() {
	old := lockCheckInterval
	lockCheckInterval = d
	return func() { lockCheckInterval = old }
}

// SetPurgeBatch lets tests see purges run in several batches.
func SetPurgeBatch(n int) func() {
	old := purgeBatch
	purgeBatch = n
	return func() { purgeBatch = old }
}

// Refused exposes the test that tells a refused value from an outage.
var Refused = refused

// Conn takes one connection from the pool.
func (s *Store) Conn(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }

// TimelineMessageSQL exposes the SQL statement of "a timeline message", so
// a test can hold it to Event.Displayable.
const TimelineMessageSQL = timelineMessageSQL
