//go:build linux

package indexer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
)

// The live index, catching up on a large import, hands back the memory of
// the periods the feed has left behind: each stays open (a search may
// read it at any time), but no page of its files stays in the process
// (archive-web following 1M long Markdown messages peaked at 313-318 MiB,
// ~80 of them the idle periods' files). What it holds is still found, and
// a period written to again later takes what comes, and is released again.
func TestCatchUpReleasesIdlePeriods(t *testing.T) {
	st, ix, base := idlePeriodsArchive(t)
	add(t, st, zebras(200, seq(60, base+100*day, day/3)...)...)
	// A deletion only: looking it up maps pages of the first period,
	// which is released again after it.
	add(t, st, `{"event_id":"$red","room_id":"!r:x","type":"m.room.redaction","sender":"@a:x","origin_server_ts":`+fmt.Sprint(base+200*day)+`,"redacts":"$z010","content":{}}`)
	add(t, st, zebras(300, seq(60, base+200*day, day/3)...)...)
	path, err := filepath.EvalSymlinks(ix.Path())
	if err != nil {
		t.Fatal(err)
	}
	// How many times each period went from resident to released.
	released, resident := map[string]int{}, map[string]bool{}
	_, err = ix.CatchUp(context.Background(), func(int64, int) {
		dirs, _ := filepath.Glob(filepath.Join(path, "p*"))
		for _, d := range dirs {
			kb, mapped := indexer.ResidentKB(t, d)
			if p := filepath.Base(d); kb > 0 {
				resident[p] = true
			} else if mapped && resident[p] {
				resident[p] = false
				released[p]++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Periods() < 4 {
		t.Fatalf("250 messages at 40 per period made %d periods", ix.Periods())
	}
	if len(released) == 0 {
		t.Error("during the catch-up, every idle period's files stayed resident")
	}
	if released["p0000"] < 2 {
		t.Errorf("the first period was released %d times, want it released again after the deletion", released["p0000"])
	}
	if got := allPages(t, ix, "zebra", indexer.SortOldest, 50); len(got) != 249 {
		t.Errorf("after the catch-up, %d of 249 messages found", len(got))
	}
	if got := ids(search(t, ix, "number10", "", 10, "")); len(got) > 0 {
		t.Errorf("number10 = %v: the redaction in a released period was not indexed", got)
	}
	if got := ids(search(t, ix, "number9", "", 10, "")); fmt.Sprint(got) != "[$z009]" {
		t.Errorf("number9 = %v, want [$z009]", got)
	}
}
