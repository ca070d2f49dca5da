package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// A machine's speed is not constant. On a shared host, the same binaries
// imported 11,167 and 15,742 messages/s an hour apart, and every other
// row moved with them. So a run reports how fast its machine was: a fixed
// workload timed at its start and at its end, and the share of CPU time
// the hypervisor took (steal). Two runs compare only where these agree.

// speedGauge is what a run reports of its machine's speed.
type speedGauge struct {
	StartMS float64 `json:"start_ms"` // the fixed workload at the start, best of five
	EndMS   float64 `json:"end_ms"`   // and at the end
	// StealPercent is the share of all CPU time the host took from this
	// machine during the run; -1 where /proc/stat cannot say.
	StealPercent float64 `json:"steal_percent"`
	// FaultUS is what first touching a page of fresh memory costs, in µs
	// (faultCostUS, at the start); -1 where it cannot be measured.
	FaultUS float64 `json:"fault_us"`
	// PageOutS is how long memory goes unaccessed before the kernel pages
	// it out on its own (damonPageOut), in seconds; 0 when nothing does.
	// PageOutFileOnly: only the page cache (anonymous memory is left).
	PageOutS        float64 `json:"page_out_idle_s,omitempty"`
	PageOutFileOnly bool    `json:"page_out_file_only,omitempty"`
	// HugePages is how many huge pages the kernel holds reserved
	// (vm.nr_hugepages), which PostgreSQL's shared buffers take where
	// there are enough (its huge_pages = try); -1 where /proc/meminfo
	// cannot say. Without them each session of the server maps each page
	// of the buffers it reads, 4 KiB at a time, at a fault each: a new
	// session's first run of a day's query (the 1M replay, 1,001 rows)
	// took 4.5-5.5 ms against 0.75-1.4 ms in 2 MiB pages (doc/deploy.md).
	HugePages int `json:"huge_pages"`
}

// gaugeStart times the workload and reads the CPU counters.
type gaugeStart struct {
	ms           float64
	faultUS      float64
	steal, total uint64
	stat         bool
}

func startGauge() gaugeStart {
	g := gaugeStart{ms: gaugeWork(), faultUS: faultCostUS()}
	g.steal, g.total, g.stat = readCPUStat()
	return g
}

// finish times the workload again and reports both with the steal since
// the start.
func (g gaugeStart) finish() speedGauge {
	s := speedGauge{StartMS: g.ms, EndMS: gaugeWork(), StealPercent: -1, FaultUS: g.faultUS, HugePages: -1}
	if meminfo, err := os.ReadFile("/proc/meminfo"); err == nil {
		s.HugePages = hugePagesTotal(string(meminfo))
	}
	if idle, fileOnly, found := damonPageOut(damonAdmin); found {
		s.PageOutS, s.PageOutFileOnly = idle.Seconds(), fileOnly
	}
	if steal, total, ok := readCPUStat(); ok && g.stat && total > g.total {
		s.StealPercent = 100 * float64(steal-g.steal) / float64(total-g.total)
	}
	return s
}

// gaugeWork runs a fixed single-core workload, hashing and JSON as a
// page's first request does, and returns its best time of five in ms.
func gaugeWork() float64 {
	// Not the collection of what the run allocated before (the prepared
	// dataset): that would be timed with the workload.
	runtime.GC()
	buf := make([]byte, 4<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	type item struct {
		ID, Sender, Body string
		TS               int64
	}
	items := make([]item, 5000)
	for i := range items {
		items[i] = item{ID: fmt.Sprintf("$event%d", i), Sender: "@someone:example.org", Body: strings.Repeat("words ", 20), TS: int64(i)}
	}
	best := math.MaxFloat64
	for range 5 {
		t0 := time.Now()
		for range 3 {
			for range 4 {
				sha256.Sum256(buf)
			}
			b, err := json.Marshal(items)
			if err != nil {
				panic(err)
			}
			var back []item
			if err := json.Unmarshal(b, &back); err != nil {
				panic(err)
			}
		}
		best = min(best, float64(time.Since(t0).Microseconds())/1000)
	}
	return best
}

// readCPUStat reads the steal and total CPU time (in ticks) of all CPUs
// from /proc/stat; ok is false where there is none (not Linux).
func readCPUStat() (steal, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseCPUStat(line)
}

// parseCPUStat reads the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq, steal, then guest times, which user and
// nice already count.
func parseCPUStat(line string) (steal, total uint64, ok bool) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:9] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += n
		if i == 7 {
			steal = n
		}
	}
	return steal, total, true
}

// hugePagesTotal is /proc/meminfo's HugePages_Total, or -1.
func hugePagesTotal(meminfo string) int {
	for line := range strings.Lines(meminfo) {
		if rest, ok := strings.CutPrefix(line, "HugePages_Total:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
				return n
			}
		}
	}
	return -1
}

// speedLine is the report's sentence on the machine's speed, or "".
func (s speedGauge) speedLine() string {
	if s.StartMS <= 0 {
		return ""
	}
	line := fmt.Sprintf("Machine speed: a fixed single-core workload took %.0f ms at the start and %.0f ms at the end", s.StartMS, s.EndMS)
	if s.StealPercent >= 0 {
		line += fmt.Sprintf("; the host took %.1f%% of the CPU time (steal)", s.StealPercent)
	}
	if s.FaultUS > 0 {
		line += fmt.Sprintf("; first touching a page of fresh memory (a page fault) cost %.2f µs", s.FaultUS)
	}
	if s.PageOutS > 0 {
		what := "memory"
		if s.PageOutFileOnly {
			what = "the page cache"
		}
		line += fmt.Sprintf("; the kernel pages out %s not read for %.0f s (DAMON), so a first request may read the archive from the disk", what, s.PageOutS)
	}
	switch {
	case s.HugePages == 0:
		line += "; no huge pages are reserved (vm.nr_hugepages), so each PostgreSQL session maps the shared buffers it reads 4 KiB at a time, a page fault each"
	case s.HugePages > 0:
		line += fmt.Sprintf("; %d huge pages are reserved (vm.nr_hugepages), which PostgreSQL's shared buffers take if they are enough", s.HugePages)
	}
	return line + ". Runs on one machine compare only where these agree.\n\n"
}
