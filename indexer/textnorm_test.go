package indexer_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
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

// A pair's bucket is matched, never scored: its postings hold a frequency
// of 0 and so no length (Bleve writes a posting's length only after a
// frequency above 0), while the words keep both; and a phrase is ranked by
// its words, so that a short message holding it comes before a long one
// sent later (equal scores are listed newest first).
func TestPairBucketsHoldNoFrequency(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	long := "install ubuntu" + strings.Repeat(" grass", 40)
	add(t, st, lines(
		msg("$short", 1700000000000, `{"msgtype":"m.text","body":"install ubuntu now"}`),
		msg("$long", 1700000001000, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, long)),
	)...)
	ix := openIndex(t, st, t.TempDir())
	catchUp(t, ix)
	for _, pair := range [][2]string{{"install", "ubuntu"}, {"ubuntu", "grass"}, {"grass", "grass"}, {"ubuntu", "now"}} {
		ps, err := ix.TextPostings(indexer.PairBucket(pair[0], pair[1]))
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) == 0 {
			t.Errorf("no postings of the bucket of %q", pair)
		}
		for ref, p := range ps {
			// No length: Bleve reads one of 0, a norm of 1/sqrt(0).
			if p.Freq != 0 || !math.IsInf(p.Norm, 1) {
				t.Errorf("the bucket of %q holds frequency %d and norm %v for %s, want neither", pair, p.Freq, p.Norm, ref)
			}
		}
	}
	ps, err := ix.TextPostings("grass")
	if err != nil {
		t.Fatal(err)
	}
	want := indexer.TextPosting{Freq: 40, Norm: float64(float32(1 / math.Sqrt(42)))}
	if got := ps[ix.KeyRef("$long")]; len(ps) != 1 || got.Freq != want.Freq || math.Abs(got.Norm-want.Norm) > 1e-6 {
		t.Errorf("the word grass: postings %v, want one for $long holding %v", ps, want)
	}
	res := search(t, ix, `"install ubuntu"`, indexer.SortRelevance, 10, "")
	var got []string
	for _, e := range res.Events {
		got = append(got, string(e.ID))
	}
	if fmt.Sprint(got) != "[$short $long]" {
		t.Errorf(`"install ubuntu" by relevance: %v, want [$short $long] (the shorter message first)`, got)
	}
}
