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
	"runtime"
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

// goMinHeap is the live heap Go figures its target from while less is
// alive: the target is then goMinHeap × GOGC / 100.
const goMinHeap = 4 << 20

// floorPercent is percent, raised where needed for the heap to grow to
// floor bytes before Go collects.
func floorPercent(live, floor uint64) int {
	p := percent(live)
	if live < goMinHeap {
		return max(p, int(100*floor/goMinHeap))
	}
	if floor > live {
		p = max(p, int(100*(floor-live)/live))
	}
	return p
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

// StartFloor is Start for a heap that is let grow to floor bytes at
// least before Go collects (floorPercent): the heap a serving archive-web
// reaches anyway once its render cache is full. Memory the heap holds
// within its target stays with the process, so with Pretouch(floor) the
// heap's pages are the system's from the start rather than as the cache
// fills.
func StartFloor(every time.Duration, floor uint64) (stop func()) {
	return start(every, func(live uint64) int { return floorPercent(live, floor) })
}

// Pretouch has the heap take n bytes of memory from the system now and
// touch each page of it, then leaves it free for the heap to use, and
// returns how long that took. The first write to a page of memory new to
// the process is a page fault, which costs 12 µs on the bench's virtual
// machine (archive-bench measures it): each first request of a day page
// paid 100-300 of them while the heap grew with the render cache. A
// heap whose target (StartFloor) is at least n keeps the memory: Go
// returns to the system only what lies past its target.
func Pretouch(n uint64) time.Duration {
	start := time.Now()
	const chunk = 1 << 20
	page := os.Getpagesize()
	keep := make([][]byte, 0, n/chunk)
	for range n / chunk {
		b := make([]byte, chunk)
		for i := 0; i < len(b); i += page {
			b[i] = 1
		}
		keep = append(keep, b)
	}
	runtime.KeepAlive(keep)
	runtime.GC()
	return time.Since(start)
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
	var mu sync.Mutex
	set := target(liveBytes())
	prev := debug.SetGCPercent(set)
	done := make(chan struct{})
	update := func() {
		mu.Lock()
		defer mu.Unlock()
		select {
		case <-done: // stopped: the target found is back
			return
		default:
		}
		if p := target(liveBytes()); p != set {
			debug.SetGCPercent(p)
			set = p
		}
	}
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
			update()
		}
	}()
	// Also after each collection: a target figured from a small live
	// heap let a heap that had since grown grow ten times past it
	// before the next look (a heap with 9 MB alive collected at 163 MB,
	// with StartFloor's 96).
	afterEachGC(done, update)
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			debug.SetGCPercent(prev)
			set = prev
		})
	}
}

// afterEachGC calls f after each collection (from the goroutine that runs
// finalizers) until done is closed.
func afterEachGC(done <-chan struct{}, f func()) {
	type sentinel struct {
		_ *int
		_ [16]byte // too big for the tiny allocator, whose objects may never be finalized
	}
	var arm func(*sentinel)
	arm = func(*sentinel) {
		select {
		case <-done:
			return
		default:
		}
		f()
		runtime.SetFinalizer(&sentinel{}, arm)
	}
	runtime.SetFinalizer(&sentinel{}, arm)
}
