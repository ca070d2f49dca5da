package gcpolicy

import (
	"errors"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, maxPercent},
		{1 << 20, maxPercent}, // 1 MB alive: 3,200% would be Headroom; at most maxPercent
		{4 << 20, 800},        // grows by 32 MB
		{16 << 20, 200},       // by 32 MB
		{32 << 20, 100},       // twice what is live is Headroom
		{200 << 20, 100},      // Go's default: grows by more than Headroom
	} {
		if got := percent(c.live); got != c.want {
			t.Errorf("percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// alive allocates n MB and writes to each MB: the caller keeps it alive.
func alive(n int) [][]byte {
	keep := make([][]byte, n)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
		keep[i][0] = 1
	}
	return keep
}

// settle waits up to 5 s for the collector's target to be want, and
// returns the target then.
func settle(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for current() != want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	return current()
}

// current reads the collector's target without changing it.
func current() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	before := current()
	runtime.GC()
	stop := Start(time.Millisecond)
	if got, want := current(), percent(liveBytes()); got != want {
		t.Errorf("started: GOGC %d, want %d", got, want)
	}
	// 64 MB kept alive: the target goes back to Go's default.
	keep := alive(64)
	runtime.GC()
	if got := settle(100); got != 100 {
		t.Errorf("with %d MB alive: GOGC %d, want 100", len(keep), got)
	}
	runtime.KeepAlive(keep)
	stop()
	if got := current(); got != before {
		t.Errorf("stopped: GOGC %d, want %d", got, before)
	}
}

func TestStartLeavesTheOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	before := current()
	defer Start(time.Millisecond)()
	time.Sleep(5 * time.Millisecond)
	if got := current(); got != before {
		t.Errorf("with GOGC set: GOGC %d, want %d", got, before)
	}
}

func TestBulkPercent(t *testing.T) {
	const budget = 256 << 20
	for _, c := range []struct {
		live, heap uint64
		rss        int64
		want       int
	}{
		{0, 0, 100 << 20, 100},                   // nothing alive yet
		{32 << 20, 40 << 20, 100 << 20, bulkMax}, // 132 MiB of heap allowed: bulkMax
		{32 << 20, 40 << 20, 150 << 20, 156},     // 82 MiB: grows by 50
		{32 << 20, 40 << 20, 168 << 20, 100},     // 64 MiB: no more than twice what is live
		{32 << 20, 40 << 20, 300 << 20, 100},     // over the budget already
	} {
		if got := bulkPercent(c.live, c.heap, c.rss, budget); got != c.want {
			t.Errorf("bulkPercent(live %d MiB, heap %d MiB, rss %d MiB) = %d, want %d", c.live>>20, c.heap>>20, c.rss>>20, got, c.want)
		}
	}
}

// StartBulk's target follows the room the budget leaves, never below
// Start's, and Start's where the resident memory cannot be read.
func TestStartBulkFollowsTheBudget(t *testing.T) {
	t.Setenv("GOGC", "")
	before := current()
	keep := alive(64) // 64 MB alive: Start's target is 100
	runtime.GC()
	var rss atomic.Int64
	var fail atomic.Bool
	stop := StartBulk(time.Millisecond, 1<<30, func() (int64, error) {
		if fail.Load() {
			return 0, errors.New("no /proc")
		}
		return rss.Load(), nil
	})
	wait := func(want int, why string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for current() != want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := current(); got != want {
			t.Errorf("%s: GOGC %d, want %d", why, got, want)
		}
	}
	wait(bulkMax, "a budget of 1 GiB, nothing resident")
	rss.Store(1 << 30)
	wait(100, "the budget used up")
	rss.Store(0)
	wait(bulkMax, "room again")
	fail.Store(true)
	wait(100, "resident memory unknown")
	runtime.KeepAlive(keep)
	stop()
	if got := current(); got != before {
		t.Errorf("stopped: GOGC %d, want %d", got, before)
	}
}

func TestFloorPercent(t *testing.T) {
	const floor = 96 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 2400},        // Go's target is 4 MB × GOGC / 100 while less is alive
		{1 << 20, 2400},  // the same
		{4 << 20, 2300},  // 4 + 92
		{8 << 20, 1100},  // 8 + 88: grows to 96 MB, not to 40
		{10 << 20, 860},  // 10 + 86
		{32 << 20, 200},  // 32 + 64
		{48 << 20, 100},  // twice what is live is the floor
		{64 << 20, 100},  // grows by Headroom, past the floor
		{200 << 20, 100}, // Go's default
	} {
		got := floorPercent(c.live, floor)
		if got != c.want {
			t.Errorf("floorPercent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
		// Whatever is live, the heap may grow to the floor and by
		// Headroom before Go collects.
		live := max(c.live, goMinHeap)
		if goal := live + live*uint64(got)/100; goal+(1<<20) < max(floor, live+Headroom) {
			t.Errorf("live %d MiB: the target %d MiB is short of the floor", c.live>>20, goal>>20)
		}
	}
	if got, want := floorPercent(8<<20, 0), percent(8<<20); got != want {
		t.Errorf("no floor: %d, want percent's %d", got, want)
	}
}

// The target is figured again after each collection, not only at each
// interval: StartFloor's target for a heap with little alive, kept while
// the heap grew, let it grow ten times past its floor.
func TestTargetFollowsEachCollection(t *testing.T) {
	t.Setenv("GOGC", "")
	before := current()
	runtime.GC()
	stop := StartFloor(time.Hour, 96<<20)
	if got, want := current(), floorPercent(liveBytes(), 96<<20); got != want {
		t.Errorf("started: GOGC %d, want %d", got, want)
	}
	keep := alive(128) // 128 MB alive: past the floor, Go's default
	runtime.GC()
	if got := settle(100); got != 100 {
		t.Errorf("after a collection with %d MB alive: GOGC %d, want 100", len(keep), got)
	}
	runtime.KeepAlive(keep)
	stop()
	if got := current(); got != before {
		t.Errorf("stopped: GOGC %d, want %d", got, before)
	}
	// Collections after stop leave the target stop restored.
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if got := current(); got != before {
		t.Errorf("collections after stop: GOGC %d, want %d", got, before)
	}
}
