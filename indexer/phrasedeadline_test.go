package indexer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A search whose phrase check is still going when its deadline passes
// stops, and says so (web answers 503, "The search took too long"). The
// check of 40 long messages (here 16: 30,000 copies of a word, each a legal 60 KB
// message in a public room) against a phrase of one hyphenated word of
// 250 parts went on for seconds past a deadline of 50 ms, and the search
// then answered as if in time. The deadline here is a tenth of the time
// the whole search takes on this machine, so the test holds on a slow or
// loaded one; without the check of the context the search returns
// results, and takes all of that time.
func TestPhraseCheckStopsAtItsDeadline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ix := openIndex(t, st, t.TempDir())
		content, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": strings.Repeat("x ", 30000) + "y"})
		var ls []string
		for i := range 16 {
			ls = append(ls, msg(fmt.Sprintf("$m%d", i), int64(2000+i), string(content)))
		}
		add(t, st, lines(ls...)...)
		catchUp(t, ix)
		q, err := indexer.ParseQuery(strings.Repeat("x-", 249) + "y")
		if err != nil {
			t.Fatal(err)
		}
		req := indexer.Request{Query: q, Sort: indexer.SortNewest, Size: 16}
		start := time.Now()
		res, err := ix.Search(context.Background(), req)
		whole := time.Since(start)
		if err != nil || len(res.Events) != 16 {
			t.Fatalf("without a deadline: %d results, %v; want all 16 (each ends with the run)", len(res.Events), err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), whole/10)
		defer cancel()
		start = time.Now()
		res, err = ix.Search(ctx, req)
		took := time.Since(start)
		t.Logf("the whole search: %v; with a deadline of %v: %v (%d results, %v)", whole, whole/10, took, len(res.Events), err)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a search past its deadline returned %d results and error %v; want context.DeadlineExceeded", len(res.Events), err)
		}
		if took > whole/2 {
			t.Errorf("a search with a deadline of a tenth of its time (%v) took %v of %v", whole/10, took, whole)
		}
	})
}
