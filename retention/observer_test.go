package retention_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/retention"
)

// The job tells its observer (the archiver's metrics) of every batch and
// of each round's result, a failed round included.
func TestRunTellsObserver(t *testing.T) {
	p := &purger{
		rounds: [][]retention.Batch{
			{{Room: "!a:x", Deleted: 7}, {Room: "!b:x", Deleted: 2}},
			{{Room: "!c:x", Deleted: 4}},
			{},
		},
		fail: map[int]bool{1: true},
		done: make(chan struct{}),
	}
	var deleted, batches, ok, failed int
	obs := retention.Observer{
		Batch: func(b retention.Batch) { batches++; deleted += b.Deleted },
		Round: func(err error) {
			if err != nil {
				failed++
			} else {
				ok++
			}
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		retention.Run(ctx, p, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), obs)
		close(stopped)
	}()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not run a fourth round")
	}
	cancel()
	<-stopped
	// The fourth round (the one that closed done) may or may not have been
	// reported before the cancel; the first three always were.
	if batches != 3 || deleted != 13 || failed != 1 || ok < 2 {
		t.Errorf("observer saw %d batches, %d deleted, %d ok rounds, %d failed; want 3, 13, >= 2, 1", batches, deleted, ok, failed)
	}
}
