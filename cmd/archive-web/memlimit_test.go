package main

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/internal/gcpolicy"
)

// archive-web sets web.memory_limit (256 MiB by default) as Go's soft
// memory limit, unless it is 0 or GOMEMLIMIT is set (the operator's own
// limit, which the runtime has applied already).
func TestMemoryLimit(t *testing.T) {
	cfg, err := config.Load("", []string{"MXARCHIVE_WEB_MEMORY_LIMIT=134217728"})
	if err != nil {
		t.Fatal(err)
	}
	def, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		w          config.Web
		gomemlimit string
		want       int64
		set        bool
	}{
		{def.Web, "", 256 << 20, true},
		{cfg.Web, "", 128 << 20, true},
		{def.Web, "1GiB", 256 << 20, false},
		{config.Web{}, "", 0, false},
	} {
		if got, set := memoryLimit(c.w, c.gomemlimit); set != c.set || (set && got != c.want) {
			t.Errorf("memoryLimit(%d, %q) = %d, %v; want %d, %v", c.w.MemoryLimit, c.gomemlimit, got, set, c.want, c.set)
		}
	}
	if _, err := config.Load("", []string{"MXARCHIVE_WEB_MEMORY_LIMIT=-1"}); err == nil {
		t.Error("a negative memory limit was accepted")
	}
}

// web.memory_limit bounds archive-web's resident memory, and the index's
// segment files mapped in count in it (at 3M messages 130-200 MiB of it):
// Go's limit is what the files leave of it, re-read as they change, and
// never below half of it, where the collector would run all the time.
func TestHeapLimitLeavesRoomForMappedFiles(t *testing.T) {
	const budget = 256 << 20
	for _, c := range []struct{ file, want int64 }{
		{0, budget},
		{56 << 20, 200 << 20},
		{128 << 20, 128 << 20},
		{200 << 20, 128 << 20},
		{1 << 30, 128 << 20},
	} {
		if got := heapLimit(budget, c.file); got != c.want {
			t.Errorf("heapLimit(%d MiB, %d MiB mapped) = %d MiB, want %d", budget>>20, c.file>>20, got>>20, c.want>>20)
		}
	}
}

func TestMappedFileBytes(t *testing.T) {
	status := "Name:\tarchive-web\nVmRSS:\t  300000 kB\nRssAnon:\t  100000 kB\nRssFile:\t  180000 kB\nRssShmem:\t       0 kB\n"
	got, err := mappedFileBytes(strings.NewReader(status))
	if err != nil || got != 180000<<10 {
		t.Errorf("mappedFileBytes = %d, %v; want %d", got, err, 180000<<10)
	}
	if _, err := mappedFileBytes(strings.NewReader("Name:\tx\nVmRSS:\t 1 kB\n")); err == nil {
		t.Error("a status without RssFile gave no error")
	}
	if _, err := mappedFileBytes(strings.NewReader("RssFile:\t lots kB\n")); err == nil {
		t.Error("an unreadable RssFile gave no error")
	}
}

// A reindex's collector (gcpolicy.StartBulk) reads the resident memory.
func TestResidentBytes(t *testing.T) {
	status := "Name:\tarchive-web\nVmHWM:\t  400000 kB\nVmRSS:\t  300000 kB\nRssAnon:\t  100000 kB\n"
	if got, err := statusBytes(strings.NewReader(status), "VmRSS:"); err != nil || got != 300000<<10 {
		t.Errorf("VmRSS = %d, %v; want %d", got, err, 300000<<10)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if got, err := selfResidentBytes(); err != nil || got < 1<<20 {
		t.Errorf("selfResidentBytes = %d, %v; want this process's resident memory", got, err)
	}
}

// followMappedFiles sets Go's limit from the mapped files at start and
// again whenever they change by more than a little, and stops with ctx.
func TestFollowMappedFiles(t *testing.T) {
	const budget = 256 << 20
	files := []int64{0, 1 << 20, 100 << 20, 100<<20 + 4096, 10 << 20}
	var set []int64
	ctx, cancel := context.WithCancel(context.Background())
	i := 0
	read := func() (int64, error) {
		if i == len(files) {
			cancel()
			return files[len(files)-1], nil
		}
		i++
		return files[i-1], nil
	}
	followMappedFiles(ctx, budget, time.Millisecond, read, func(n int64) { set = append(set, n) })
	want := []int64{budget, 156 << 20, 246 << 20}
	if !slices.Equal(set, want) {
		t.Errorf("limits set %v, want %v", set, want)
	}
}

func TestHeapFloor(t *testing.T) {
	def, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cache, limit int64
		want         uint64
	}{
		{def.Web.CacheSize, def.Web.MemoryLimit, 96 << 20}, // the defaults: 64 MiB of cache, 256 of limit
		{def.Web.CacheSize, math.MaxInt64, 96 << 20},       // no limit
		{def.Web.CacheSize, 128 << 20, 64 << 20},           // half the limit
		{0, math.MaxInt64, gcpolicy.Headroom},              // no cache
		{1 << 30, 1 << 40, 1<<30 + gcpolicy.Headroom},
		{def.Web.CacheSize, 0, 0},
	} {
		if got := heapFloor(config.Web{CacheSize: c.cache}, c.limit); got != c.want {
			t.Errorf("heapFloor(cache %d MiB, limit %d MiB) = %d MiB, want %d", c.cache>>20, c.limit>>20, got>>20, c.want>>20)
		}
	}
}
