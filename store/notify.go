package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the PostgreSQL channel writers notify when they commit
// changes. NOTIFY is transactional: listeners hear it only after the commit,
// so a wake-up never races ahead of the data.
const notifyChannel = "mxarchive_changes"

// Changed returns a channel that receives (coalesced) when another process
// may have appended to the change feed, so a reader can look at once rather
// than at its next poll. On PostgreSQL it LISTENs on a dedicated connection,
// reconnecting as needed, until ctx ends; on SQLite, which has no such
// mechanism, it returns nil (a channel that never fires): poll instead.
func (s *Store) Changed(ctx context.Context) <-chan struct{} {
	if s.dialect != postgres {
		return nil
	}
	ch := make(chan struct{}, 1)
	go func() {
		delay := time.Second
		for ctx.Err() == nil {
			err := s.listen(ctx, ch)
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("listening for change notifications failed; polling until it works again", "err", err, "retry_in", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, time.Minute)
		}
	}()
	return ch
}

func (s *Store) listen(ctx context.Context, ch chan<- struct{}) error {
	conn, err := pgx.Connect(ctx, s.uri)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		select {
		case ch <- struct{}{}:
		default: // one pending wake-up is enough
		}
	}
}
