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
// ("sudo apt", "apt get", "get install"), each pair as one of pairBuckets
// terms, its bucket (a hash of its two words). A phrase query becomes a
// conjunction of its pairs' buckets and its longest words (searchTerms):
// plain posting lists, with no positions to read. The words score it; the
// buckets' postings hold no frequency and no length (textField).
// Positions (term vectors) are not stored at all. A document that has
// them all but not in one run (the words apart, another pair in the same
// bucket) is weeded out when the hit is checked against the store
// (runFinder).
//
// Measured at 3M messages, a three-word phrase cost 22–48 ms p50 with
// positions. Indexed as itself, each pair was a term of its own: a period
// of 100,000 IRC lines held 308k pair terms against 39k words, a period of
// 42,000 Markdown messages 553k against 88k, most of them in one message
// or two, and each cost a dictionary entry and a posting list in every
// segment and merge. A reindex of the 1M Ubuntu replay took 40.9 s (73.9 s
// of CPU) and its index 262 MB; with the pairs in 4,096 buckets, 30.2 s
// (53.4) and 203 MB; without pairs at all, 26.8 s and 167 MB (2026-12-01). A
// bucket alone is no filter for a rare phrase (some 240 other pairs'
// postings a period of IRC lines, 1,000 of Markdown), hence the words: a
// message with the words and another pair of the bucket is rare. An
// index of format 7 or older holds the pairs themselves (no "buckets" in
// its analyzer's configuration), and its phrases are searched by them.

// pairBuckets is how many terms the pairs of an index of this format are
// hashed into (pairBucket).
const pairBuckets = 4096

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
		var a pairsAnalyzer
		// "buckets": the pairs are hashed into that many terms
		// (pairBucket; a JSON number once the mapping is stored).
		// Without it, each pair is a term of its own (format 7 or older).
		switch n := config["buckets"].(type) {
		case int:
			a.buckets = uint32(n)
		case float64:
			a.buckets = uint32(n)
		}
		if a.buckets > uint32(maxPairBuckets) {
			return nil, fmt.Errorf("%s: %d buckets, at most %d", pairsAnalyzerType, a.buckets, maxPairBuckets)
		}
		if name, ok := config["base"].(string); ok {
			base, err := cache.AnalyzerNamed(name)
			if err != nil {
				return nil, fmt.Errorf("%s: base analyzer %q: %w", pairsAnalyzerType, name, err)
			}
			a.base, a.ascii = base, wordsPerLine(base)
			return a, nil
		}
		rest := make(map[string]any, len(config))
		for k, v := range config {
			if k != "buckets" {
				rest[k] = v
			}
		}
		base, err := custom.AnalyzerConstructor(rest, cache)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pairsAnalyzerType, err)
		}
		a.base, a.ascii = base, wordsPerLine(base)
		return a, nil
	}); err != nil {
		panic(err)
	}
}

// pairsAnalyzer is base's words and the pairs of adjacent words.
type pairsAnalyzer struct {
	base analysis.Analyzer
	// buckets: each pair is indexed as its bucket (pairBucket); 0: as
	// itself, the two words joined by pairSep.
	buckets uint32
	// none: the index holds no pairs (a mapping not this package's).
	none bool
	// ascii: base splits ASCII text as asciiWords does, which then
	// analyzes all-ASCII text in its stead.
	ascii bool
}

// maxWordBytes bounds the term of a word: a longer word is indexed, and
// searched for, as its first maxWordBytes bytes (capWord). A message can
// be one word as long as a homeserver lets through (60,000 letters with
// no space), and Bleve keeps a term in its dictionary (a vellum FST) as a
// chain of states a byte: every segment built and every merge walked it
// byte by byte. A reindex of 60 messages edited 40 times into words of
// 60,000 bytes took 41 s of CPU in merges alone, of 115. Lucene cuts at
// 255 by default; words past 128 bytes are blobs (keys, base64), and two
// such that share their first 128 bytes are matched as one.
const maxWordBytes = 128

// capWord is term cut to maxWordBytes, at the start of a UTF-8 sequence.
// Every path from text to a word's term cuts it: the index's words
// (pairsAnalyzer, and its pairs of them), a query's (words) and the
// phrase check's (textWords), so they meet.
func capWord(term []byte) []byte {
	if len(term) <= maxWordBytes {
		return term
	}
	n := maxWordBytes
	for n > 0 && !utf8.RuneStart(term[n]) {
		n--
	}
	return term[:n]
}

// pair is the term the index holds for the pair of words x, y.
func (a pairsAnalyzer) pair(x, y []byte) []byte {
	if a.buckets > 0 {
		return pairBucket(x, y, a.buckets)
	}
	term := make([]byte, 0, len(x)+len(pairSep)+len(y))
	return append(append(append(term, x...), pairSep...), y...)
}

func (a pairsAnalyzer) Analyze(input []byte) analysis.TokenStream {
	words, ok := analysis.TokenStream(nil), false
	if a.ascii {
		words, ok = asciiWords(input)
	}
	if !ok {
		words = a.base.Analyze(input)
	}
	for _, w := range words {
		w.Term = capWord(w.Term)
	}
	out := make(analysis.TokenStream, 0, 2*len(words))
	out = append(out, words...)
	if len(words) < 2 {
		return out
	}
	// The pairs' tokens, and their buckets' terms, in one allocation
	// each, not two a pair.
	pairs := make([]analysis.Token, len(words)-1)
	var buckets []byte
	if a.buckets > 0 {
		buckets = make([]byte, bucketBytes*len(pairs))
	}
	for i := range pairs {
		prev, cur := words[i], words[i+1]
		var term []byte
		if a.buckets > 0 {
			term = putPairBucket(buckets[bucketBytes*i:], prev.Term, cur.Term, a.buckets)
		} else {
			term = a.pair(prev.Term, cur.Term)
		}
		pairs[i] = analysis.Token{Term: term, Start: prev.Start, End: cur.End, Position: prev.Position, Type: analysis.Shingle}
		out = append(out, &pairs[i])
	}
	return out
}

// bucketDigits spell a bucket's number, six bits a byte. A bucket's term
// begins with pairSep, which no word holds, so no word is a bucket.
const bucketDigits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"

// maxPairBuckets is the most buckets two digits spell.
const maxPairBuckets = len(bucketDigits) * len(bucketDigits)

// pairBucket is the bucket of the pair of words x, y among n: FNV-1a of
// x, a zero byte and y, its bits mixed as MurmurHash3 finishes (FNV's low
// bits depend on the input's low bits alone), scaled to n, and spelled as
// pairSep and two digits. It is part of the index format: a change to it
// needs a new one.
func pairBucket(x, y []byte, n uint32) []byte {
	return putPairBucket(make([]byte, bucketBytes), x, y, n)
}

// bucketBytes is the length of a bucket's term.
const bucketBytes = 3

// putPairBucket writes pairBucket's term to the start of dst and returns
// it.
func putPairBucket(dst, x, y []byte, n uint32) []byte {
	h := uint32(2166136261)
	for _, c := range x {
		h = (h ^ uint32(c)) * 16777619
	}
	h *= 16777619 // the zero byte between the words
	for _, c := range y {
		h = (h ^ uint32(c)) * 16777619
	}
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	b := uint32(uint64(h) * uint64(n) >> 32)
	dst = dst[:bucketBytes:bucketBytes]
	dst[0], dst[1], dst[2] = pairSep[0], bucketDigits[b/64%64], bucketDigits[b%64]
	return dst
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
		out = append(out, string(capWord(t.Term)))
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

// textPairs is the pairs analyzer of m's text field. A mapping without
// one (not this package's) is taken to hold no pairs: its phrases are then
// searched by their words and checked against the store, which is slower
// but finds the same messages.
func textPairs(m mapping.IndexMapping) pairsAnalyzer {
	if a, ok := m.AnalyzerNamed(textAnalyzer).(pairsAnalyzer); ok {
		return a
	}
	return pairsAnalyzer{none: true}
}

// phraseWords is how many of a phrase's words its search requires besides
// its pairs' buckets, and scores it by (searchTerms).
const phraseWords = 2

// searchTerms returns the distinct terms a run of words is searched by:
// one word is itself; a longer run is the terms of its adjacent pairs,
// and, where those are buckets, its longest phraseWords words too
// (scored: required as well, and what scores the phrase, since a bucket's
// postings hold no frequency: textField). Until index format 11 the
// buckets scored a phrase and the words only filtered: the words' scores
// are a message's own, not those of a thousand other pairs sharing a
// bucket. exact reports that the terms match the run exactly (one
// word, or two whose pair the index holds as itself); otherwise a match
// must be checked against the store (textCheck). An index without pairs
// searches the words.
func searchTerms(a pairsAnalyzer, ws []string) (terms, scored []string, exact bool) {
	add := func(to *[]string, t string) {
		if !slices.Contains(*to, t) {
			*to = append(*to, t)
		}
	}
	switch {
	case len(ws) == 1 || a.none:
		for _, w := range ws {
			add(&terms, w)
		}
	case a.buckets > 0:
		// The two longest words: a second bucket already leaves few
		// messages with no run, and each word required reads its
		// postings (archive-bench load at 3M, whose phrases are of
		// forty common words: search p50 86-89 ms with every word, 64-71
		// with two, one run each). Long words are the rarer (Zipf), so
		// the cheaper to read.
		long := slices.Clone(ws)
		slices.SortStableFunc(long, func(x, y string) int { return len(y) - len(x) })
		for _, w := range long {
			if len(scored) == phraseWords {
				break
			}
			add(&scored, w)
		}
	}
	if !a.none {
		for i := 1; i < len(ws); i++ {
			add(&terms, string(a.pair([]byte(ws[i-1]), []byte(ws[i]))))
		}
	}
	return terms, scored, len(ws) == 1 || (len(ws) == 2 && !a.none && a.buckets == 0)
}

// containsRun reports whether the words of phrase occur one after the other
// in text's words.
func containsRun(text, phrase []string) bool {
	if len(phrase) == 0 {
		return true
	}
	m := newRunMatch(phrase)
	return slices.ContainsFunc(text, func(w string) bool { return feedRun(&m, w) })
}

// A runMatch finds a run of words in words given one at a time, comparing
// each with at most as many of the run's words as it has had (Knuth,
// Morris and Pratt's search, over words rather than letters). Comparing
// the run afresh at each word that begins it cost the message's words
// times the run's: both are a reader's to choose (a message of 30,000
// copies of one word, a phrase of that word 249 times and then another,
// or one hyphenated word of 250 parts), and 40 such messages kept a
// search busy for seconds.
type runMatch struct {
	run []string
	// back[k] is how many of run's words still match once the word after
	// run[:k+1] is not run[k+1]: the longest proper prefix of run[:k+1]
	// that also ends it.
	back []int
	k    int // how many of run's words the last words given match
	// compared counts the word comparisons made, table included: the
	// tests bound it by twice the words given and the run's.
	compared int
}

func newRunMatch(run []string) runMatch {
	m := runMatch{run: run, back: make([]int, len(run))}
	for i, k := 1, 0; i < len(run); i++ {
		for {
			m.compared++
			if run[i] == run[k] {
				k++
				break
			}
			if k == 0 {
				break
			}
			k = m.back[k-1]
		}
		m.back[i] = k
	}
	return m
}

// feedRun gives m the next word and reports whether the run ends with it.
// The run must not be empty.
func feedRun[W string | []byte](m *runMatch, w W) bool {
	for {
		m.compared++
		if string(w) == m.run[m.k] {
			if m.k++; m.k == len(m.run) {
				m.k = m.back[m.k-1]
				return true
			}
			return false
		}
		if m.k == 0 {
			return false
		}
		m.k = m.back[m.k-1]
	}
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
// ASCII lower case as it is. On ASCII text such an analyzer gives
// asciiWords's tokens, which the text field's then takes instead.
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
		case lowerFilter, *lowercase.LowerCaseFilter, *unicodenorm.UnicodeNormalizeFilter:
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
	// compared counts the word comparisons holds made (runMatch), for
	// the tests of their bound.
	compared int
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
// other, as containsRun does over all of them, in time linear in the words
// split and the run (runMatch).
func (t *textWords) holds(run []string) bool {
	if len(run) == 0 {
		return true
	}
	m := newRunMatch(run)
	defer func() { t.compared += m.compared }()
	if !t.f.byLine {
		if !t.split {
			t.all, t.split = wordsBy(t.f.a, t.text), true
		}
		return slices.ContainsFunc(t.all, func(w string) bool { return feedRun(&m, w) })
	}
	// The words are given line after line, so a run goes on across a line
	// break. A line that cannot hold the run's first word is left unsplit
	// unless a run begun before it goes on into it: with none under way,
	// no run begins in it, and none is under way after it.
	first := run[0]
	firstASCII := isASCII(first)
	for i := range t.lines {
		l := &t.lines[i]
		if m.k == 0 && l.ascii && (!firstASCII || !strings.Contains(t.lower[l.start:l.end], first)) {
			continue
		}
		for _, w := range t.words(i) {
			if feedRun(&m, w) {
				return true
			}
		}
	}
	return false
}

// words splits line i into words, once.
func (t *textWords) words(i int) [][]byte {
	l := &t.lines[i]
	if !l.split {
		l.split = true
		if l.start < l.end {
			for _, tok := range t.f.a.Analyze([]byte(t.text[l.start:l.end])) {
				l.words = append(l.words, capWord(tok.Term))
			}
		}
	}
	return l.words
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
