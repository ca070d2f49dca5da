package indexer_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// logBuffer collects log lines written from Follow's goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// With the database down the indexer backs off exponentially up to a cap
// and says so once, not every poll; when the database returns it says that
// once too and polls at its normal pace again. The clock is fake: the test
// counts the waits Follow asks for, it does not wait them.
func TestFollowBacksOffWhileTheDatabaseIsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dsn := pgtest.NewDatabase(t)
	st, err := store.Open(ctx, store.Config{Type: "postgres", URI: dsn}, t.TempDir(), storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := &logBuffer{}
	const poll = 100 * time.Millisecond
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{PollInterval: poll},
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()

	var mu sync.Mutex
	var waits []time.Duration
	ix.SetWait(func(d time.Duration) <-chan time.Time {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		ch := make(chan time.Time, 1)
		ch <- time.Time{}
		// Keep a healthy loop from spinning the CPU; the back-off under
		// test is d, which is only recorded.
		time.Sleep(time.Millisecond)
		return ch
	})
	waitsSoFar := func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), waits...)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; waits %v; logs:\n%s", what, waitsSoFar(), logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	pgtest.SetConnections(t, dsn, false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ix.Follow(ctx)
	}()
	const rounds = 12
	eventually("rounds with the database down", func() bool { return len(waitsSoFar()) >= rounds })
	got := waitsSoFar()[:rounds]
	for i, d := range got {
		if d < poll {
			t.Errorf("wait %d = %v, below the poll interval", i, d)
		}
		if i > 0 && d < got[i-1] {
			t.Errorf("wait %d = %v, shorter than the one before (%v)", i, d, got[i-1])
		}
		if d > time.Minute {
			t.Errorf("wait %d = %v, above any sensible cap", i, d)
		}
	}
	if got[rounds-1] < 16*got[0] {
		t.Errorf("waits %v do not back off (want them to grow to at least 16 times the first)", got)
	}
	if got[rounds-1] != got[rounds-2] {
		t.Errorf("waits %v do not reach a cap", got)
	}
	if n := logs.count("level=ERROR"); n != 1 {
		t.Errorf("%d error lines over %d failed rounds, want 1:\n%s", n, rounds, logs.String())
	}

	pgtest.SetConnections(t, dsn, true)
	eventually("the indexer to say it works again", func() bool { return logs.count("works again") > 0 })
	n := len(waitsSoFar())
	eventually("a round after recovery", func() bool { return len(waitsSoFar()) > n+1 })
	if last := waitsSoFar()[n+1]; last != poll {
		t.Errorf("after recovery the wait is %v, want the poll interval %v", last, poll)
	}
	if n := logs.count("level=ERROR"); n != 1 {
		t.Errorf("%d error lines in all, want 1", n)
	}
	cancel()
	<-done
}
