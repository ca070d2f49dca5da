// Package gcpolicy is how often Go collects in archive-web, shared with
// archive-bench, which measures archive-web's search in its own process.
//
// A serving archive-web keeps little alive (2 MB at 1M messages with the
// search index open: Bleve's segments are mapped files, the render cache
// starts empty), and at Go's default target (GOGC 100: the heap grows to
// twice what is live, and at least to 4 MB) it collected after every 3 MB
// allocated, every few searches; a search that overlapped a collection
// took two to five times its median (time-ordered searches at 1M on
// PostgreSQL: p50 1-3 ms, p99 4-8). So the heap may grow by at least
// Headroom past what is live before Go collects: where twice what is live
// is more, nothing changes (a catch-up's batches, a full render cache).
package gcpolicy

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Headroom is the least the heap may grow past what is live.
const Headroom = 32 << 20

// maxPercent bounds the target set for a heap with almost nothing alive.
const maxPercent = 1000

// percent is the GOGC that lets a heap with live bytes alive grow by
// Headroom: Go's default (100) where that lets it grow more, maxPercent at
// most.
func percent(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	return int(min(max(100*Headroom/live, 100), maxPercent))
}

const liveMetric = "/gc/heap/live:bytes"

// liveBytes is the heap the last collection found alive.
func liveBytes() uint64 {
	s := []metrics.Sample{{Name: liveMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Start sets the collector's target from the live heap (percent) now and
// every interval, until stop, which restores the target it found. It does
// nothing where the environment sets GOGC: the operator's choice wins.
func Start(every time.Duration) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	set := percent(liveBytes())
	prev := debug.SetGCPercent(set)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if p := percent(liveBytes()); p != set {
				debug.SetGCPercent(p)
				set = p
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			debug.SetGCPercent(prev)
		})
	}
}
