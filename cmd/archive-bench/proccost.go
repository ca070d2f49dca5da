package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A first request's time on the bench's machine is mostly archive-web's
// CPU, and part of that is the kernel's: every page of memory the process
// touches for the first time is a page fault, which costs 12 µs on the
// virtual machine these figures were taken on (speedGauge.FaultUS) and
// well under one on most hardware. A day page of 800 KB kept by the
// render cache grows the heap by as much: some 200-300 faults, a quarter
// of its first request. So each first request is reported with the CPU
// time and the faults it cost archive-web, read from /proc around it.

// procCost is a process's CPU time and minor page faults so far.
type procCost struct {
	cpuNS  int64 // on-CPU time of all its threads (schedstat), ns
	faults int64 // minor page faults (stat's minflt)
}

// readProcCost reads procCost of pid from /proc; ok is false where it
// cannot (not Linux, or the process is gone).
func readProcCost(pid int) (c procCost, ok bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return c, false
	}
	if c.faults, ok = minorFaults(string(stat)); !ok {
		return c, false
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return c, false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that ended since the glob
		}
		ns, ok := schedstatNS(string(b))
		if !ok {
			return c, false
		}
		c.cpuNS += ns
	}
	return c, true
}

// minorFaults reads minflt, the tenth field of a /proc/PID/stat line. The
// second field, the command's name in parentheses, may hold spaces and
// parentheses itself: the fields are counted from the last ')'.
func minorFaults(stat string) (int64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	// After the name: state (3rd field), ppid, pgrp, session, tty_nr,
	// tpgid, flags, minflt (10th).
	f := strings.Fields(stat[i+1:])
	if len(f) < 8 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[7], 10, 64)
	return n, err == nil
}

// schedstatNS reads the on-CPU time, the first field of a
// /proc/PID/task/TID/schedstat, in ns.
func schedstatNS(s string) (int64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	return n, err == nil
}
