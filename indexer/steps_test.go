package indexer_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A catch-up's steps hold no more than about CatchUpText (512 KiB) of
// text: Bleve holds a step's analysed text, some hundred times its bytes,
// and a step of 10,000 long Markdown messages held gigabytes.
func TestCatchUpBoundsItsStepsByText(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	long := strings.Repeat("lorem ipsum dolor sit amet ", 800) // 21.6 KB
	var ls []string
	for i := range 300 {
		ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"%d %s"}`, i, long)))
	}
	add(t, st, lines(ls...)...)
	ix, steps := catchUpSteps(t, st, 100)
	// Each step at most CatchUpText of text (24 of these messages), give
	// or take a doubling: the first too, which is read before any text
	// was seen (a first step of 2,000 long Markdown messages was most of
	// a reindex's 568 MiB peak).
	for i, n := range steps {
		if n > 2*indexer.CatchUpText/len(long) {
			t.Errorf("step %d took %d messages of %d bytes: %v", i, n, len(long), steps)
			break
		}
	}
	if n, _ := ix.DocCount(); n != 300 {
		t.Errorf("%d documents, want 300", n)
	}
}

// A catch-up's steps stay at the configured batch size however long the
// backlog: a step's documents (analysed text, field maps, the segment
// built from them) are held twice over, one step read while one is
// written, and steps grown to five times the size held 150 MB live at
// 300k short messages for no gain in time (300k reindex: peak RSS 208 MiB
// at 2,000 a step against 371 at up to 10,000, CPU 41 s against 43).
func TestCatchUpStepsStayAtBatchSize(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	var ls []string
	for i := range 400 {
		ls = append(ls, msg(fmt.Sprintf("$s%d", i), int64(2000+i), fmt.Sprintf(`{"msgtype":"m.text","body":"line %d"}`, i)))
	}
	add(t, st, lines(ls...)...)
	ix, steps := catchUpSteps(t, st, 50)
	for i, n := range steps {
		if n > 50 {
			t.Fatalf("step %d took %d changes, more than the batch size of 50: %v", i, n, steps)
		}
	}
	if n, _ := ix.DocCount(); n != 400 {
		t.Errorf("%d documents, want 400", n)
	}
}

// catchUpSteps indexes st's backlog at the given batch size and returns
// the index and how many changes each step of the catch-up applied.
func catchUpSteps(t *testing.T, st *store.Store, batchSize int) (*indexer.Indexer, []int) {
	t.Helper()
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{BatchSize: batchSize}, storetest.Logger(t))
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
	return ix, steps
}
