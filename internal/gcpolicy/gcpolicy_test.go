package gcpolicy

import (
	"runtime"
	"runtime/debug"
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
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
		keep[i][0] = 1
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for current() != 100 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := current(); got != 100 {
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
