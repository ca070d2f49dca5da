package indexer_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// The index holds a message's length in words, up to 127, with each of
// its text postings: a hit on a message of n words scores by 1/sqrt(n), not
// by its word pairs too (1/sqrt(2n-1)), and one longer than 127 words as
// if it had 127, so that the length is one byte a posting, not two.
func TestTextNormCountsWords(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	words := map[string]int{"$short": 3, "$mid": 100, "$long": 300}
	var msgs []string
	for i, ev := range []string{"$short", "$mid", "$long"} {
		text := "zebra" + strings.Repeat(" grass", words[ev]-1)
		msgs = append(msgs, msg(ev, int64(1700000000000+i*1000), fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, text)))
	}
	add(t, st, lines(msgs...)...)
	ix := openIndex(t, st, t.TempDir())
	catchUp(t, ix)
	norms, err := ix.TextNorms("zebra")
	if err != nil {
		t.Fatal(err)
	}
	if len(norms) != len(words) {
		t.Fatalf("norms of %d messages, want %d: %v", len(norms), len(words), norms)
	}
	for ev, n := range words {
		want := float64(float32(1 / math.Sqrt(float64(min(n, 127)))))
		if got, ok := norms[ix.KeyRef(ev)]; !ok || math.Abs(got-want) > 1e-6 {
			t.Errorf("%s (%d words): norm %v, want %v (a length of %d)", ev, n, got, want, min(n, 127))
		}
	}
}
