package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/store"
)

// reindexRun is what `archive-web reindex` cost: the search index built
// from the whole store by the process that serves it, as an operator
// builds it after an import or an upgrade.
type reindexRun struct {
	Seconds float64
	// PeakRSS is the process's peak resident set (VmHWM, a high-water
	// mark the kernel keeps, read every 50 ms: what grows in the last
	// 50 ms is missed), PeakAnon the peak of its anonymous part (heap,
	// stacks), sampled as often. The rest is file pages mapped in (the
	// index's segments, the binary), which the kernel can drop.
	// getrusage's maxrss is not the child's own: Go starts a child
	// sharing its memory until exec (vfork), and the kernel keeps that
	// memory's high-water mark as the child's, so the benchmark's own
	// peak (415 MiB at 300k) was reported for a 181 MiB reindex.
	PeakRSS, PeakAnon int64
}

// runReindex runs `archive-web reindex` on the data directory and waits
// for it.
func runReindex(ctx context.Context, bin string, cfg store.Config, dataDir string) (reindexRun, error) {
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "reindex")
	cmd.Env = append(os.Environ(), "MXARCHIVE_DATA_DIR="+dataDir, "MXARCHIVE_DATABASE_TYPE="+cfg.Type,
		"MXARCHIVE_DATABASE_URI="+cfg.URI, "MXARCHIVE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = procAttr()
	run, err := runMeasured(cmd)
	if err != nil {
		return run, fmt.Errorf("archive-web reindex: %w: %s", err, tail(logs.String(), 4000))
	}
	return run, nil
}

// runMeasured runs cmd to its end and measures its time and peak memory.
func runMeasured(cmd *exec.Cmd) (reindexRun, error) {
	var run reindexRun
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pid := cmd.Process.Pid
	sample := func() {
		run.PeakAnon = max(run.PeakAnon, procStatusBytes(pid, "RssAnon:"))
		// No less than its anonymous part, which the kernel's lazily
		// summed counters may show above VmHWM (webProcess.peakRSS).
		run.PeakRSS = max(run.PeakRSS, procStatusBytes(pid, "VmHWM:"), run.PeakAnon)
	}
	sample()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			run.Seconds = time.Since(t0).Seconds()
			return run, err
		case <-tick.C:
			sample()
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
