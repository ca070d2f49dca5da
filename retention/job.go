package retention

import (
	"context"
	"log/slog"
	"time"

	"maunium.net/go/mautrix/id"
)

// Batch is one purge transaction that committed: how many of a room's
// expired events it deleted.
type Batch struct {
	Room    id.RoomID
	Deleted int
}

// Purger deletes every expired event in batches, calling progress after
// each batch it commits, and returns how many each room lost (or would
// lose, with dryRun). The store implements it.
type Purger interface {
	PurgeExpired(ctx context.Context, dryRun bool, progress func(Batch)) (map[id.RoomID]int64, error)
}

// Observer is told of a purge's progress, for metrics, without this
// package knowing how they are kept. Either func may be nil.
type Observer struct {
	// Batch is called after each batch commits.
	Batch func(Batch)
	// Round is called after each round; err is nil when it finished.
	Round func(err error)
}

// Run purges every interval until ctx ends, starting at once. Expired
// messages are hidden from the moment they expire; this deletes them and
// drops them from the index. Each batch is logged as it commits, so a long
// first purge shows its progress; a failed round is logged and retried at
// the next tick. obs is told of each batch and round.
func Run(ctx context.Context, p Purger, every time.Duration, log *slog.Logger, obs Observer) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		var n int64
		per, err := p.PurgeExpired(ctx, false, func(b Batch) {
			n += int64(b.Deleted)
			log.Info("retention purge batch", "room_id", b.Room, "deleted", b.Deleted, "deleted_so_far", n)
			if obs.Batch != nil {
				obs.Batch(b)
			}
		})
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention purge failed; retrying at the next interval", "err", err, "deleted", n)
		case n > 0:
			log.Info("retention purge", "deleted", n, "rooms", len(per))
		}
		// A round cut short by shutdown is neither a success nor a failure.
		if obs.Round != nil && (err == nil || ctx.Err() == nil) {
			obs.Round(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
