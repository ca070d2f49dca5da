package main

import (
	"runtime"
	"strings"
	"testing"
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
