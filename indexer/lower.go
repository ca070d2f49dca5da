package indexer

import (
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/registry"
)

// lowerFilter is the token filter that lower-cases words (lowerName), in
// place of Bleve's lowercase filter: that one (v2.6.3), where a letter's
// lower case is shorter than the letter (İ, U+0130, becomes i), stops
// copying the bytes after it over the gap, so "İstanbul" was the term
// "i\xb0stanbu", found by a search for İstanbul but never by istanbul,
// Istanbul or İSTANBUL's "istanbul". The same mapping otherwise: each
// rune's unicode.ToLower, a capital sigma ending the word a final sigma,
// a byte that is not UTF-8 kept as it is.
type lowerFilter struct{}

const lowerName = "mxarchive_lower"

func init() {
	err := registry.RegisterTokenFilter(lowerName, func(map[string]any, *registry.Cache) (analysis.TokenFilter, error) {
		return lowerFilter{}, nil
	})
	if err != nil {
		panic(err)
	}
}

func (lowerFilter) Filter(in analysis.TokenStream) analysis.TokenStream {
	for _, t := range in {
		t.Term = lowerWord(t.Term)
	}
	return in
}

// lowerWord lower-cases w, in place where it is ASCII.
func lowerWord(w []byte) []byte {
	for i, c := range w {
		if c >= utf8.RuneSelf {
			return lowerRunes(w, i)
		}
		if 'A' <= c && c <= 'Z' {
			w[i] = c + 'a' - 'A'
		}
	}
	return w
}

// lowerRunes lower-cases w from its first non-ASCII byte at i on, into a
// new slice: a rune's lower case may be longer or shorter than it.
func lowerRunes(w []byte, i int) []byte {
	out := make([]byte, i, len(w)+4)
	copy(out, w[:i])
	for i < len(w) {
		r, n := rune(w[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(w[i:])
		}
		l := unicode.ToLower(r)
		switch {
		case l == r:
			out = append(out, w[i:i+n]...) // as it is, an invalid byte too
		case l == 'σ' && i+n == len(w):
			out = utf8.AppendRune(out, 'ς')
		default:
			out = utf8.AppendRune(out, l)
		}
		i += n
	}
	return out
}
