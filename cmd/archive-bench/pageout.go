package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// damonAdmin is where Linux's DAMON is driven from user space.
const damonAdmin = "/sys/kernel/mm/damon/admin"

// damonPageOut reads, under root (damonAdmin, or a copy of its layout),
// whether a running DAMON scheme pages memory out on its own once it has
// gone unaccessed for a while, and the shortest such while. Some hosts run
// one: the bench's virtual machine pages out file pages not read for 60 s
// with 20 GiB of its memory free, so a page's first request a few
// minutes after the import may read the archive's data from the disk
// rather than from the page cache, which no other figure of the run would
// say. fileOnly: the scheme leaves anonymous memory alone (a filter
// rejects anon pages), so what it drops is the page cache.
func damonPageOut(root string) (idle time.Duration, fileOnly, found bool) {
	kdamonds, _ := filepath.Glob(filepath.Join(root, "kdamonds", "[0-9]*"))
	for _, kd := range kdamonds {
		if readSys(kd, "state") != "on" {
			continue
		}
		contexts, _ := filepath.Glob(filepath.Join(kd, "contexts", "[0-9]*"))
		for _, c := range contexts {
			aggr, err := strconv.ParseUint(readSys(c, "monitoring_attrs/intervals/aggr_us"), 10, 64)
			if err != nil {
				continue
			}
			schemes, _ := filepath.Glob(filepath.Join(c, "schemes", "[0-9]*"))
			for _, s := range schemes {
				if readSys(s, "action") != "pageout" {
					continue
				}
				// The age is counted in aggregation intervals.
				age, err := strconv.ParseUint(readSys(s, "access_pattern/age/min"), 10, 64)
				if err != nil {
					continue
				}
				d := time.Duration(age*aggr) * time.Microsecond
				if !found || d < idle {
					idle, fileOnly, found = d, rejectsAnon(s), true
				}
			}
		}
	}
	return idle, fileOnly, found
}

// rejectsAnon says whether one of scheme's filters keeps it off anonymous
// memory: type anon, matching, and not allowing (kernels before 6.14 have
// no allow file: a matching filter excluded). Filters live in "filters",
// or "core_filters" and "ops_filters" from 6.15.
func rejectsAnon(scheme string) bool {
	for _, dir := range []string{"filters", "core_filters", "ops_filters"} {
		filters, _ := filepath.Glob(filepath.Join(scheme, dir, "[0-9]*"))
		for _, f := range filters {
			if readSys(f, "type") == "anon" && readSys(f, "matching") == "Y" && readSys(f, "allow") != "Y" {
				return true
			}
		}
	}
	return false
}

// readSys is a sysfs file's content without its newline; "" if unreadable.
func readSys(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
