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
//
// A rebuild of the search index (archive-web reindex) is throughput, not
// latency: Bleve's batches and merges allocate as fast as two cores can,
// while little stays alive (20-40 MiB at 1M messages), and at Go's
// default more than a quarter of a 1M reindex's CPU went to the collector
// and its write barriers. StartBulk lets its heap grow to up to three
// times what is live, as far as the process's resident memory, measured,
// leaves room in its budget: where the index's mapped files take most of
// it (a 3M reindex's merges), that is Go's default again.
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

// bulkMax is the most StartBulk sets: the heap grows to three times what
// is live. A 1M reindex (925k IRC messages) with GOGC fixed, all run
// within the same hour: at 100 it took 78-85 s and 146-158 s of CPU and peaked at 213-219
// MiB; at 200 67-68 s, 123-125 s, 258-260 MiB; at 300 63 s, 116 s, 281
// MiB; with no target but the memory limit 59 s, 107 s, 282 MiB.
const bulkMax = 200

// bulkSlack is what StartBulk leaves of the budget for what grows between
// two of its looks: a merge maps its segments whole, 60 MiB within a
// second in a 3M reindex. Leaving 16 MiB, that reindex peaked at 285 MiB
// (budget 256), against 255 at Go's default; leaving 64, at 262.
const bulkSlack = 64 << 20

// bulkPercent is the GOGC that lets the heap (heap bytes now, live of
// them alive) grow by what the budget leaves of the resident memory rss,
// less bulkSlack: bulkMax at most, and 100 (Go's default) at least.
func bulkPercent(live, heap uint64, rss, budget int64) int {
	if live == 0 {
		return 100
	}
	target := int64(heap) + budget - bulkSlack - rss
	if target <= 2*int64(live) {
		return 100
	}
	return int(min(100*(target-int64(live))/int64(live), bulkMax))
}

// liveBytes is the heap the last collection found alive.
func liveBytes() uint64 { return metric("/gc/heap/live:bytes") }

// heapBytes is the heap's objects now, alive or not yet collected.
func heapBytes() uint64 { return metric("/memory/classes/heap/objects:bytes") }

func metric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
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
	return start(every, percent)
}

// StartBulk is Start for a process that builds rather than serves, whose
// resident memory (rss, read at each look) should stay within budget:
// the target is bulkPercent's where it is more than percent's, percent's
// where rss cannot be read.
func StartBulk(every time.Duration, budget int64, rss func() (int64, error)) (stop func()) {
	return start(every, func(live uint64) int {
		r, err := rss()
		if err != nil {
			return percent(live)
		}
		return max(percent(live), bulkPercent(live, heapBytes(), r, budget))
	})
}

func start(every time.Duration, target func(live uint64) int) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	set := target(liveBytes())
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
			if p := target(liveBytes()); p != set {
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
