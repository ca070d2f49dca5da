package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// web.memory_limit bounds archive-web's resident memory, and the search
// index's segment files, which Bleve maps into the process, count in it:
// at 3M messages 130-200 MiB of file pages, on top of a heap Go let grow
// to the whole limit (serving peaked at 368 MiB with the limit at 256).
// So Go's soft limit is what the mapped files leave of the budget, read
// again every second, but never below half of it: there the collector
// would run all the time and a catch-up's batches would not fit.

// heapLimit is Go's soft memory limit for a resident budget of which
// fileBytes are file pages mapped in.
func heapLimit(budget, fileBytes int64) int64 {
	return max(budget-fileBytes, budget/2)
}

// mappedFileBytes reads the file pages mapped in (RssFile) from a
// /proc/PID/status.
func mappedFileBytes(r io.Reader) (int64, error) { return statusBytes(r, "RssFile:") }

// statusBytes reads the field key (with its colon) of a /proc/PID/status,
// in bytes.
func statusBytes(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), key)
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q: %w", strings.TrimSuffix(key, ":"), v, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s line", strings.TrimSuffix(key, ":"))
}

// selfMappedFileBytes is this process's file pages mapped in.
func selfMappedFileBytes() (int64, error) { return selfStatusBytes("RssFile:") }

// selfResidentBytes is this process's resident memory (VmRSS).
func selfResidentBytes() (int64, error) { return selfStatusBytes("VmRSS:") }

func selfStatusBytes(key string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return statusBytes(f, key)
}

// limitStep is how far the limit must move before it is set again.
const limitStep = 4 << 20

// followMappedFiles sets Go's limit (set) from the mapped files (read) now
// and every interval until ctx ends, whenever it moved by limitStep. If
// the files cannot be read (not Linux), the budget stays the limit.
func followMappedFiles(ctx context.Context, budget int64, every time.Duration, read func() (int64, error), set func(int64)) {
	last := int64(-1)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		file, err := read()
		if err != nil {
			if last < 0 {
				set(budget)
			}
			return
		}
		if l := heapLimit(budget, file); last < 0 || l >= last+limitStep || l <= last-limitStep {
			set(l)
			last = l
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// startMemoryLimit applies web.memory_limit: Go's limit follows the
// mapped files, in the background until ctx ends.
func startMemoryLimit(ctx context.Context, budget int64, log *slog.Logger) {
	if _, err := selfMappedFileBytes(); err != nil {
		log.Info("the index's mapped files cannot be measured; web.memory_limit is Go's heap limit", "err", err)
		debug.SetMemoryLimit(budget)
		return
	}
	go followMappedFiles(ctx, budget, time.Second, selfMappedFileBytes, func(n int64) { debug.SetMemoryLimit(n) })
}
