package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestParseCPUStat(t *testing.T) {
	for _, c := range []struct {
		line         string
		steal, total uint64
		ok           bool
	}{
		{"cpu  1356710 2721 302922 1137396 20936 0 17740 19803 0 0", 19803, 1356710 + 2721 + 302922 + 1137396 + 20936 + 17740 + 19803, true},
		{"cpu  1 2 3 4 5 6 7 8 9 10", 8, 36, true}, // guest times are in user and nice already
		{"cpu  1 2 3 4 5 6 7", 0, 0, false},        // a kernel too old to count steal
		{"cpu0 1 2 3 4 5 6 7 8 0 0", 0, 0, false},
		{"cpu  1 2 x 4 5 6 7 8 0 0", 0, 0, false},
		{"", 0, 0, false},
	} {
		steal, total, ok := parseCPUStat(c.line)
		if steal != c.steal || total != c.total || ok != c.ok {
			t.Errorf("%q: %d, %d, %v; want %d, %d, %v", c.line, steal, total, ok, c.steal, c.total, c.ok)
		}
	}
}

func TestSpeedGauge(t *testing.T) {
	g := startGauge().finish()
	if g.StartMS <= 0 || g.EndMS <= 0 {
		t.Errorf("gauge: %+v", g)
	}
	if runtime.GOOS == "linux" && (g.StealPercent < 0 || g.StealPercent > 100) {
		t.Errorf("steal on Linux: %+v", g)
	}
	if line := g.speedLine(); !strings.Contains(line, "fixed single-core workload") {
		t.Errorf("report line: %q", line)
	}
	if runtime.GOOS == "linux" {
		if g.FaultUS <= 0 || g.FaultUS > 1000 {
			t.Errorf("page fault cost on Linux: %+v", g)
		}
		if line := g.speedLine(); !strings.Contains(line, "a page fault") {
			t.Errorf("report line without the page fault's cost: %q", line)
		}
	}
	if line := (speedGauge{}).speedLine(); line != "" {
		t.Errorf("a report without a gauge (an older bench.json) says %q", line)
	}
}

// TestDamonPageOut reads a copy of DAMON's sysfs layout: the shortest idle
// time of a running kdamond's pageout schemes, in its context's
// aggregation intervals, and whether a filter keeps the scheme off
// anonymous memory.
func TestDamonPageOut(t *testing.T) {
	write := func(t *testing.T, root string, files map[string]string) {
		for name, content := range files {
			p := filepath.Join(root, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The bench's machine: pageout after 12 intervals of 5 s, anon rejected.
	host := map[string]string{
		"kdamonds/nr_kdamonds": "1",
		"kdamonds/0/state":     "on",
		"kdamonds/0/contexts/0/monitoring_attrs/intervals/aggr_us": "5000000",
		"kdamonds/0/contexts/0/schemes/0/action":                   "pageout",
		"kdamonds/0/contexts/0/schemes/0/access_pattern/age/min":   "12",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/0/type":       "anon",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/0/matching":   "Y",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/0/allow":      "N",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/1/type":       "unmapped",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/1/matching":   "Y",
		"kdamonds/0/contexts/0/schemes/0/ops_filters/1/allow":      "Y",
		"kdamonds/0/contexts/0/schemes/1/action":                   "stat",
		"kdamonds/0/contexts/0/schemes/1/access_pattern/age/min":   "1",
	}
	for _, c := range []struct {
		name     string
		change   map[string]string
		idle     time.Duration
		fileOnly bool
		found    bool
	}{
		{"the bench's machine", nil, 60 * time.Second, true, true},
		{"stopped", map[string]string{"kdamonds/0/state": "off"}, 0, false, false},
		{"anon allowed", map[string]string{"kdamonds/0/contexts/0/schemes/0/ops_filters/0/allow": "Y"}, 60 * time.Second, false, true},
		{"a quicker scheme of a second kdamond", map[string]string{
			"kdamonds/1/state": "on", "kdamonds/1/contexts/0/monitoring_attrs/intervals/aggr_us": "100000",
			"kdamonds/1/contexts/0/schemes/0/action": "pageout", "kdamonds/1/contexts/0/schemes/0/access_pattern/age/min": "50",
		}, 5 * time.Second, false, true},
		{"unreadable age", map[string]string{"kdamonds/0/contexts/0/schemes/0/access_pattern/age/min": "x"}, 0, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, host)
			write(t, root, c.change)
			idle, fileOnly, found := damonPageOut(root)
			if idle != c.idle || fileOnly != c.fileOnly || found != c.found {
				t.Errorf("%v, %v, %v; want %v, %v, %v", idle, fileOnly, found, c.idle, c.fileOnly, c.found)
			}
		})
	}
	if _, _, found := damonPageOut(t.TempDir()); found {
		t.Error("found a scheme in an empty directory")
	}
	line := speedGauge{StartMS: 50, EndMS: 51, StealPercent: -1, PageOutS: 60, PageOutFileOnly: true, HugePages: -1}.speedLine()
	if !strings.Contains(line, "pages out the page cache") || !strings.Contains(line, "60 s") || strings.Contains(line, "huge") {
		t.Errorf("report line: %q", line)
	}
}

// The report says whether PostgreSQL's shared buffers could be in huge
// pages: without them every new session faults in each page it reads, and
// first requests on PostgreSQL compare only between runs that agree.
func TestHugePagesReported(t *testing.T) {
	const meminfo = "MemTotal:       24634236 kB\nHugePages_Total:     300\nHugePages_Free:      279\nHugepagesize:       2048 kB\n"
	for _, c := range []struct {
		meminfo string
		want    int
	}{
		{meminfo, 300},
		{strings.Replace(meminfo, "300", "0", 1), 0},
		{"MemTotal:       24634236 kB\n", -1},
		{"HugePages_Total: x\n", -1},
	} {
		if got := hugePagesTotal(c.meminfo); got != c.want {
			t.Errorf("hugePagesTotal(%q) = %d, want %d", c.meminfo, got, c.want)
		}
	}
	for n, want := range map[int]string{0: "no huge pages are reserved", 300: "300 huge pages are reserved", -1: ""} {
		line := speedGauge{StartMS: 50, EndMS: 51, StealPercent: -1, HugePages: n}.speedLine()
		if got := strings.Contains(line, "huge pages"); got != (want != "") || !strings.Contains(line, want) {
			t.Errorf("%d huge pages: report line %q, want it to say %q", n, line, want)
		}
	}
}
