package indexer_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A word longer than MaxWordBytes is indexed, and searched for, as its
// first MaxWordBytes bytes (cut at a UTF-8 sequence's start): the index
// holds no longer term, whatever a message holds (one word of 60,000
// letters), and the word is still found, alone or in a phrase. Two long
// words that share their first MaxWordBytes bytes are one word to search:
// a search for one finds both, alone or in a phrase (the phrase check
// cuts the words it compares too), but not where the rest of a phrase
// differs.
func TestLongWordsAreCut(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	long := strings.Repeat("a", 170) + "z" // a phrase is at most 200 bytes
	other := strings.Repeat("a", 150)
	hangul := strings.Repeat("한", 60) // 180 bytes; 128 falls inside a letter
	add(t, st, lines(
		msg("$huge", 1700000000000, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, strings.Repeat("b", 60000))),
		msg("$long", 1700000001000, fmt.Sprintf(`{"msgtype":"m.text","body":"hello %s world"}`, long)),
		msg("$other", 1700000002000, fmt.Sprintf(`{"msgtype":"m.text","body":"%s world"}`, other)),
		msg("$hangul", 1700000003000, fmt.Sprintf(`{"msgtype":"m.text","body":"word %s"}`, hangul)),
	)...)
	ix := openIndex(t, st, t.TempDir())
	catchUp(t, ix)
	terms, err := ix.TextTerms()
	if err != nil {
		t.Fatal(err)
	}
	if len(terms) == 0 {
		t.Fatal("the index holds no term")
	}
	for _, term := range terms {
		if len(term) > indexer.MaxWordBytes || !utf8.ValidString(term) {
			t.Errorf("a term of %d bytes (valid UTF-8: %v): %.40q…", len(term), utf8.ValidString(term), term)
		}
	}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{strings.Repeat("b", 60000)[:400], []string{"$huge"}},
		{long, []string{"$long", "$other"}},
		{`"hello ` + long + ` world"`, []string{"$long"}},
		{`"` + other + ` world"`, []string{"$long", "$other"}},
		{hangul, []string{"$hangul"}},
		{`"word ` + hangul + `"`, []string{"$hangul"}},
	} {
		got := ids(search(t, ix, c.q, "", 10, ""))
		slices.Sort(got)
		if want := slices.Sorted(slices.Values(c.want)); !slices.Equal(got, want) {
			t.Errorf("%.60q…: found %v, want %v", c.q, got, want)
		}
	}
}
