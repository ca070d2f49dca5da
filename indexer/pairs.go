package indexer

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/unicodenorm"
	unicodetok "github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
)

// Phrases are matched with word pairs instead of term positions.
//
// The text field holds every word and also every pair of adjacent words
// ("sudo apt", "apt get", "get install"). A phrase query becomes a
// conjunction of its pairs: plain posting lists, far rarer than the words
// they join, with no positions to read. Positions (term vectors) are not
// stored at all. A document that has all the pairs but not in one run is
// weeded out when the hit is checked against the store (containsPhrase).
// Measured at 3M messages, a three-word phrase cost 22–48 ms p50 with
// positions.

// pairsAnalyzerType is the analyzer type that wraps a base analyzer and
// adds the pairs. Its config either names a built-in base analyzer
// ("base": "en") or defines one as a custom analyzer does ("tokenizer",
// "token_filters"): an index's custom analyzers are rebuilt in no set order
// when it is opened, so it cannot name another custom one.
const pairsAnalyzerType = "mxarchive_pairs"

// pairSep joins the words of a pair. No word contains a space: the Unicode
// tokenizer splits on it.
const pairSep = " "

func init() {
	if err := registry.RegisterAnalyzer(pairsAnalyzerType, func(config map[string]any, cache *registry.Cache) (analysis.Analyzer, error) {
		if name, ok := config["base"].(string); ok {
			base, err := cache.AnalyzerNamed(name)
			if err != nil {
				return nil, fmt.Errorf("%s: base analyzer %q: %w", pairsAnalyzerType, name, err)
			}
			return pairsAnalyzer{base}, nil
		}
		base, err := custom.AnalyzerConstructor(config, cache)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pairsAnalyzerType, err)
		}
		return pairsAnalyzer{base}, nil
	}); err != nil {
		panic(err)
	}
}

type pairsAnalyzer struct{ base analysis.Analyzer }

func (a pairsAnalyzer) Analyze(input []byte) analysis.TokenStream {
	words := a.base.Analyze(input)
	out := make(analysis.TokenStream, 0, 2*len(words))
	out = append(out, words...)
	for i := 1; i < len(words); i++ {
		prev, cur := words[i-1], words[i]
		term := make([]byte, 0, len(prev.Term)+len(pairSep)+len(cur.Term))
		term = append(append(append(term, prev.Term...), pairSep...), cur.Term...)
		out = append(out, &analysis.Token{Term: term, Start: prev.Start, End: cur.End, Position: prev.Position, Type: analysis.Shingle})
	}
	return out
}

// words analyzes text as the index does, without the pairs.
func words(m mapping.IndexMapping, text string) []string {
	return wordsBy(m.AnalyzerNamed(baseAnalyzer(m)), text)
}

func wordsBy(a analysis.Analyzer, text string) []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, t := range a.Analyze([]byte(text)) {
		out = append(out, string(t.Term))
	}
	return out
}

// baseAnalyzer is the name of the analyzer the index splits words with: the
// mapping's default (the text field's pairs analyzer wraps it).
func baseAnalyzer(m mapping.IndexMapping) string {
	if impl, ok := m.(*mapping.IndexMappingImpl); ok {
		return impl.DefaultAnalyzer
	}
	return analyzerName
}

// pairsOf returns the distinct adjacent pairs of a word sequence.
func pairsOf(ws []string) []string {
	var out []string
	for i := 1; i < len(ws); i++ {
		p := ws[i-1] + pairSep + ws[i]
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// containsRun reports whether the words of phrase occur one after the other
// in text's words.
func containsRun(text, phrase []string) bool {
	if len(phrase) == 0 {
		return true
	}
	for i := 0; i+len(phrase) <= len(text); i++ {
		if slices.Equal(text[i:i+len(phrase)], phrase) {
			return true
		}
	}
	return false
}

// A runFinder tells whether a message's words, split as the index splits
// them, hold a run of words: the check against the store of a phrase of
// three or more words (containsRun over the message's words, without
// splitting all of them).
//
// Splitting a whole message into words was most of a phrase search's cost
// over long Markdown messages (Bleve's analyzer allocates a token per word;
// 1.4 ms of a 6.6 ms phrase search at 1M messages). But the index's own
// analyzer splits at Unicode word boundaries (UAX #29), which always break
// before and after a line feed (rules WB3a and WB3b), and then normalises
// and lower-cases each word on its own: a message's words are its lines'
// words one after the other. So only the lines that can hold the run's
// first word are split, and the lines after one as far as the run reaches.
// A line of ASCII can hold a word only if its lower-cased bytes contain it
// (normalisation leaves ASCII as it is); any other line is split. An
// analyzer that filters words otherwise (a language's stemmer changes
// them, so a word's letters need not appear in the text) splits the whole
// text, as before.
type runFinder struct {
	a      analysis.Analyzer
	byLine bool
}

func newRunFinder(m mapping.IndexMapping) runFinder {
	a := m.AnalyzerNamed(baseAnalyzer(m))
	return runFinder{a: a, byLine: wordsPerLine(a)}
}

// wordsPerLine reports whether an analyzer's words are found line by line
// and lower-case ASCII words in lower-cased ASCII text: Unicode word
// boundaries, then only filters that map each word on its own and leave
// ASCII lower case as it is.
func wordsPerLine(a analysis.Analyzer) bool {
	d, ok := a.(*analysis.DefaultAnalyzer)
	if !ok || len(d.CharFilters) > 0 {
		return false
	}
	if _, ok := d.Tokenizer.(*unicodetok.UnicodeTokenizer); !ok {
		return false
	}
	for _, f := range d.TokenFilters {
		switch f.(type) {
		case *lowercase.LowerCaseFilter, *unicodenorm.UnicodeNormalizeFilter:
		default:
			return false
		}
	}
	return true
}

// textWords is one message's text, split into words as the runs looked
// for need them.
type textWords struct {
	f     *runFinder
	text  string
	lower string // text with ASCII letters lower-cased, at the same offsets
	lines []textLine
	all   []string // every word, when the analyzer is not per line
	split bool     // all is set
}

type textLine struct {
	start, end int
	ascii      bool
	split      bool
	words      [][]byte
}

func (f *runFinder) text(text string) *textWords {
	t := &textWords{f: f, text: text}
	if !f.byLine {
		return t
	}
	lower := make([]byte, len(text))
	start, ascii := 0, true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\n':
			t.lines = append(t.lines, textLine{start: start, end: i, ascii: ascii})
			start, ascii = i+1, true
		case c >= utf8.RuneSelf:
			ascii = false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	t.lines = append(t.lines, textLine{start: start, end: len(text), ascii: ascii})
	t.lower = string(lower)
	return t
}

// holds reports whether the text's words hold run's words one after the
// other, as containsRun does over all of them.
func (t *textWords) holds(run []string) bool {
	if len(run) == 0 {
		return true
	}
	if !t.f.byLine {
		if !t.split {
			t.all, t.split = wordsBy(t.f.a, t.text), true
		}
		return containsRun(t.all, run)
	}
	first := run[0]
	firstASCII := isASCII(first)
	for i := range t.lines {
		l := &t.lines[i]
		if l.ascii && (!firstASCII || !strings.Contains(t.lower[l.start:l.end], first)) {
			continue
		}
		for j, w := range t.words(i) {
			if string(w) == first && t.runAt(i, j+1, run[1:]) {
				return true
			}
		}
	}
	return false
}

// runAt reports whether the words from line i's j-th on begin with rest,
// going on into the next lines.
func (t *textWords) runAt(i, j int, rest []string) bool {
	for len(rest) > 0 {
		ws := t.words(i)
		if j == len(ws) {
			if i++; i == len(t.lines) {
				return false
			}
			j = 0
			continue
		}
		if string(ws[j]) != rest[0] {
			return false
		}
		rest, j = rest[1:], j+1
	}
	return true
}

// words splits line i into words, once.
func (t *textWords) words(i int) [][]byte {
	l := &t.lines[i]
	if !l.split {
		l.split = true
		if l.start < l.end {
			for _, tok := range t.f.a.Analyze([]byte(t.text[l.start:l.end])) {
				l.words = append(l.words, tok.Term)
			}
		}
	}
	return l.words
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
