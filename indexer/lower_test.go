package indexer_test

import (
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
)

// TestLetterWhoseLowerCaseIsShorter: Bleve's lowercase filter (v2.6.3) cut
// a word after a letter whose lower case is shorter (İ, U+0130, becomes
// i): "İstanbul" was indexed as "i\xb0stanbu", so a search for istanbul,
// Istanbul or İSTANBUL never found it, nor a phrase holding it; a word
// after the letter in the same token lost its last bytes. Every spelling
// finds every message now, as it does for the Kelvin sign (longer lower
// case) and plain capitals.
func TestLetterWhoseLowerCaseIsShorter(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ix := openIndex(t, st, t.TempDir())
	add(t, st, lines(
		msg("$dotted", 2000, `{"msgtype":"m.text","body":"meetup in İstanbul next week"}`),
		msg("$plain", 3000, `{"msgtype":"m.text","body":"Istanbul again"}`),
		msg("$caps", 4000, `{"msgtype":"m.text","body":"İSTANBUL IN CAPITALS"}`),
		msg("$kelvin", 5000, `{"msgtype":"m.text","body":"300 \u212A is warm"}`),
	)...)
	catchUp(t, ix)
	for _, c := range []struct{ q, want string }{
		{`istanbul`, "[$caps $dotted $plain]"},
		{`İstanbul`, "[$caps $dotted $plain]"},
		{`ISTANBUL`, "[$caps $dotted $plain]"},
		{`"in istanbul"`, "[$dotted]"},
		{`"İstanbul next"`, "[$dotted]"},
		{`k`, "[$kelvin]"},
	} {
		for _, sort := range []string{indexer.SortRelevance, indexer.SortNewest} {
			if got := fmt.Sprint(ids(search(t, ix, c.q, sort, 10, ""))); got != c.want {
				t.Errorf("%s (%s) = %s, want %s", c.q, sort, got, c.want)
			}
		}
	}
}
