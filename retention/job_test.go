package retention_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/retention"
)

// purger is a fake store: each round reports its batches, or fails.
type purger struct {
	mu     sync.Mutex
	rounds [][]retention.Batch
	fail   map[int]bool
	calls  int
	done   chan struct{}
}

func (p *purger) PurgeExpired(_ context.Context, dryRun bool, progress func(retention.Batch)) (map[id.RoomID]int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if dryRun {
		return nil, errors.New("the job must never dry-run")
	}
	round := p.calls
	p.calls++
	if round == len(p.rounds) {
		close(p.done)
	}
	if round >= len(p.rounds) {
		return nil, nil
	}
	per := map[id.RoomID]int64{}
	for _, b := range p.rounds[round] {
		progress(b)
		per[b.Room] += int64(b.Deleted)
	}
	if p.fail[round] {
		return per, errors.New("database went away")
	}
	return per, nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The job logs each batch as it commits, a summary per round, a failed
// round as an error, and goes on at the next tick until its context ends.
func TestRunLogsEachBatchAndRetries(t *testing.T) {
	p := &purger{
		rounds: [][]retention.Batch{
			{{Room: "!a:x", Deleted: 7}, {Room: "!a:x", Deleted: 3}, {Room: "!b:x", Deleted: 2}},
			{{Room: "!c:x", Deleted: 4}},
			{},
		},
		fail: map[int]bool{1: true},
		done: make(chan struct{}),
	}
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		retention.Run(ctx, p, time.Millisecond, log, retention.Observer{})
		close(stopped)
	}()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not run a fourth round")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the job did not stop with its context")
	}
	got := out.String()
	for _, want := range []string{
		`msg="retention purge batch" room_id=!a:x deleted=7 deleted_so_far=7`,
		`msg="retention purge batch" room_id=!a:x deleted=3 deleted_so_far=10`,
		`msg="retention purge batch" room_id=!b:x deleted=2 deleted_so_far=12`,
		`msg="retention purge" deleted=12 rooms=2`,
		`msg="retention purge batch" room_id=!c:x deleted=4 deleted_so_far=4`,
		`level=ERROR msg="retention purge failed; retrying at the next interval" err="database went away" deleted=4`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, `msg="retention purge" `); n != 1 {
		t.Errorf("%d summaries, want 1 (a round that deleted nothing or failed has none):\n%s", n, got)
	}
}
