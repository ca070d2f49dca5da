package indexer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A catch-up's steps grow while the backlog lasts, but not past about a
// MiB of text: Bleve holds a step's analysed text, some hundred times its
// bytes, and a step of 10,000 long Markdown messages held gigabytes.
func TestCatchUpBoundsItsStepsByText(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	long := strings.Repeat("lorem ipsum dolor sit amet ", 800) // 21.6 KB
	var ls []string
	for i := range 300 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"%d %s"}`, i, long)))
	}
	add(t, st, lines(ls...)...)
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: 100}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	var steps []int
	last := 0
	if _, err := ix.CatchUp(context.Background(), func(pos int64, applied int) {
		steps = append(steps, applied-last)
		last = applied
	}); err != nil {
		t.Fatal(err)
	}
	// The first step takes the configured size; each later one at most
	// 1 MiB of text (48 of these messages), give or take a halving.
	for i, n := range steps[1:] {
		if n > 2*(1<<20)/len(long) {
			t.Errorf("step %d took %d messages of %d bytes: %v", i+1, n, len(long), steps)
			break
		}
	}
	if n, _ := ix.DocCount(); n != 300 {
		t.Errorf("%d documents, want 300", n)
	}
}
