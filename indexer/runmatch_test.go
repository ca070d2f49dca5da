package indexer

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/mapping"
)

// runAtEachWord is the plain search: the run compared afresh at every
// word, what the phrase check did before runMatch.
func runAtEachWord(text, run []string) bool {
	for i := 0; i+len(run) <= len(text); i++ {
		if slices.Equal(text[i:i+len(run)], run) {
			return true
		}
	}
	return len(run) == 0
}

// The phrase check (textWords.holds, containsRun) answers as comparing the
// run at every word does, on text of few distinct words, where a run's
// words repeat and the search has to fall back within a run ("x x y" in
// "x x x y", "x y x y" in "x y x y x y"), over line breaks (which the run finder skips
// lines at), with the index's analyzer and with a stemmer's.
func TestRunMatchAgreesWithComparingEachWord(t *testing.T) {
	plain, stemmed := plainAndStemmed(t)
	byLine, whole := newRunFinder(plain), newRunFinder(stemmed)
	if !byLine.byLine || whole.byLine {
		t.Fatal("want one finder by lines and one over the whole text")
	}
	r := rand.New(rand.NewSource(1))
	pieces := []string{"x", "x", "y", "y", "z", "X", "é"}
	found := 0
	for range 20000 {
		var b strings.Builder
		for range r.Intn(24) {
			b.WriteString(pieces[r.Intn(len(pieces))])
			b.WriteString([]string{" ", " ", " ", "\n", "-", "\n\n"}[r.Intn(6)])
		}
		text := b.String()
		for _, f := range []runFinder{byLine, whole} {
			ws := wordsBy(f.a, text)
			var run []string
			if len(ws) > 0 && r.Intn(2) == 0 {
				// A run of the text's own, changed in one word or not.
				i := r.Intn(len(ws))
				run = slices.Clone(ws[i:min(len(ws), i+1+r.Intn(5))])
				if r.Intn(2) == 0 {
					run[r.Intn(len(run))] = wordsBy(f.a, pieces[r.Intn(len(pieces))])[0]
				}
			} else {
				run = wordsBy(f.a, strings.Join([]string{"x", "y", "x", "x", "y", "z"}[r.Intn(3):][:1+r.Intn(3)], " "))
			}
			want := runAtEachWord(ws, run)
			if want {
				found++
			}
			if got := containsRun(ws, run); got != want {
				t.Fatalf("containsRun(%q, %q) = %v, want %v", ws, run, got, want)
			}
			if got := f.text(text).holds(run); got != want {
				t.Fatalf("%q in %q (by line %v): %v, want %v", run, text, f.byLine, got, want)
			}
		}
	}
	if found < 5000 {
		t.Errorf("only %d runs found of 40,000", found)
	}
}

// The phrase check is linear: a message's words are each compared with
// the run's at most twice, whatever they are. It compared the run afresh
// at every word that began it, so a message of 30,000 copies of a word
// and a phrase of 249 copies and another word (or one hyphenated word of
// 250 parts, or an excluded phrase) cost 7.5M comparisons a message, and
// a search of 40 of them (each a legal 60 KB message) took seconds. The
// count is that of the comparisons, not a time.
func TestPhraseCheckIsLinear(t *testing.T) {
	plain, stemmed := plainAndStemmed(t)
	for _, c := range []struct {
		name string
		f    runFinder
		sep  string
	}{{"one line", newRunFinder(plain), " "}, {"a word a line", newRunFinder(plain), "\n"}, {"stemmed", newRunFinder(stemmed), " "}} {
		for _, n := range []int{3000, 30000} {
			k := n / 120 // the run grows with the message: 25, 250
			text := strings.Repeat("x"+c.sep, n) + "y"
			run := append(slices.Repeat([]string{"x"}, k-1), "y")
			tw := c.f.text(text)
			if !tw.holds(run) {
				t.Fatalf("%s: the run of %d words is not found at the end of %d", c.name, k, n)
			}
			// And one word short of it: the whole text is gone through.
			if tw.holds(append(slices.Repeat([]string{"x"}, n+1), "y")) {
				t.Fatalf("%s: a run longer than the text is found", c.name)
			}
			bound := 2 * ((n + 1) + k + (n + 1) + (n + 2))
			if tw.compared > bound {
				t.Errorf("%s: %d words, a run of %d: %d comparisons; want at most twice the words and the runs' (%d)", c.name, n+1, k, tw.compared, bound)
			}
		}
	}
}

// plainAndStemmed are the index's mappings without a language and with
// English's stemmer.
func plainAndStemmed(t *testing.T) (plain, stemmed mapping.IndexMapping) {
	t.Helper()
	plain, err := newMapping("")
	if err != nil {
		t.Fatal(err)
	}
	if stemmed, err = newMapping("en"); err != nil {
		t.Fatal(err)
	}
	return plain, stemmed
}
