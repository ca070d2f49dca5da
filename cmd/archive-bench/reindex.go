package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mxarchive/mxarchive/store"
)

// reindexRun is what `archive-web reindex` cost: the search index built
// from the whole store by the process that serves it, as an operator
// builds it after an import or an upgrade.
type reindexRun struct {
	Seconds float64
	// PeakRSS is the process's peak resident set (getrusage's maxrss);
	// PeakAnon the peak of its anonymous part (heap, stacks), sampled
	// from /proc every 50 ms. The rest is file pages mapped in (the
	// index's segments, SQLite's memory-mapped reads), which the kernel
	// can drop.
	PeakRSS, PeakAnon int64
}

// runReindex runs `archive-web reindex` on the data directory and waits
// for it.
func runReindex(ctx context.Context, bin string, cfg store.Config, dataDir string) (reindexRun, error) {
	var run reindexRun
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "reindex")
	cmd.Env = append(os.Environ(), "MXARCHIVE_DATA_DIR="+dataDir, "MXARCHIVE_DATABASE_TYPE="+cfg.Type,
		"MXARCHIVE_DATABASE_URI="+cfg.URI, "MXARCHIVE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = procAttr()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	run.PeakAnon = procStatusBytes(cmd.Process.Pid, "RssAnon:")
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			run.Seconds = time.Since(t0).Seconds()
			if err != nil {
				return run, fmt.Errorf("archive-web reindex: %w: %s", err, tail(logs.String(), 4000))
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				run.PeakRSS = ru.Maxrss << 10 // kB on Linux
			}
			return run, nil
		case <-tick.C:
			run.PeakAnon = max(run.PeakAnon, procStatusBytes(cmd.Process.Pid, "RssAnon:"))
		}
	}
}

// procStatusBytes reads a kB field of /proc/PID/status, in bytes (0 if
// it cannot).
func procStatusBytes(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
