package indexer

import (
	"fmt"
	"slices"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
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
	a := m.AnalyzerNamed(baseAnalyzer(m))
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
