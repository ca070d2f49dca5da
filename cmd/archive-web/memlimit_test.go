package main

import (
	"testing"

	"github.com/mxarchive/mxarchive/config"
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
