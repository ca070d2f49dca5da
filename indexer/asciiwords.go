package indexer

import (
	"github.com/blevesearch/bleve/v2/analysis"
)

// The words of ASCII text, split and lower-cased in one pass.
//
// Bleve's Unicode tokenizer finds words with a Ragel state machine over
// UTF-8 (github.com/blevesearch/segment, UAX #29 word boundaries). It was
// the largest single part of a reindex's analysis: 5% of the CPU of a 1M
// Markdown reindex (15 s of segmentWords, 23 s with the tokenizer's own
// work) and 3.5% of an IRC one. Most messages are all ASCII, and on ASCII
// the rules come down to a few byte classes, which asciiWords applies
// directly; any other text goes through the base analyzer as before. It
// stands in only for a base analyzer of Bleve's Unicode tokenizer and
// filters that leave ASCII as it is but for lower-casing it
// (wordsPerLine): a language's analyzer (stems, stop words) is not one. The
// result is the same tokens, byte for byte (TestASCIIWordsAsBleve
// compares them with the base analyzer's on generated and real text), so
// the index format does not change.

// Byte classes of UAX #29's word boundaries as the segment package's
// tables have them for ASCII (ragel/uwb.rl).
const (
	wbOther  = iota
	wbLetter // ALetter: A-Z, a-z
	wbDigit  // Numeric: 0-9
	wbUnder  // ExtendNumLet: '_'
	// The mid characters join two letters (MidLetter, MidNumLet,
	// Single_Quote: a colon, full stop or apostrophe) or two digits
	// (MidNum, MidNumLet, Single_Quote: a comma, semicolon, full stop
	// or apostrophe) they stand between.
	wbMidLetter // ':'
	wbMidNum    // ',', ';'
	wbMidBoth   // '.' and the apostrophe
)

var wbClass = func() (t [128]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = wbLetter
		t[c+'a'-'A'] = wbLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = wbDigit
	}
	t['_'] = wbUnder
	t[':'] = wbMidLetter
	t[','], t[';'] = wbMidNum, wbMidNum
	t['.'], t['\''] = wbMidBoth, wbMidBoth
	return t
}()

// asciiWords is the tokens of input as the Unicode tokenizer followed by
// lower-casing makes them (their terms lower-cased in a copy of input);
// ok is false, and nothing is done, if input is not all ASCII.
//
// A word is a run of letters, digits and '_', which a mid character may
// continue when it stands between two letters (a colon, full stop or
// apostrophe) or two digits (a comma, semicolon, full stop or
// apostrophe): the segment package's Word pattern on
// ASCII, of which its scanner takes the longest match. A word with digits
// and no letter is Numeric (its WordNumeric pattern, listed first, matches
// it as long), any other AlphaNumeric, even one of '_' alone. Every other
// byte is a segment of its own that the tokenizer drops, so positions
// count words only.
func asciiWords(input []byte) (analysis.TokenStream, bool) {
	if !isASCII(input) {
		return nil, false
	}
	n := 0
	for i := 0; i < len(input); {
		if end, _ := wordAt(input, i); end > i {
			n++
			i = end
		} else {
			i++
		}
	}
	tokens := make([]analysis.Token, n)
	out := make(analysis.TokenStream, n)
	if n == 0 {
		return out, true
	}
	lower := make([]byte, len(input))
	for i, c := range input {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	k := 0
	for i := 0; i < len(input); {
		end, numeric := wordAt(input, i)
		if end == i {
			i++
			continue
		}
		t := &tokens[k]
		t.Term, t.Start, t.End, t.Position = lower[i:end:end], i, end, k+1
		t.Type = analysis.AlphaNumeric
		if numeric {
			t.Type = analysis.Numeric
		}
		out[k] = t
		k++
		i = end
	}
	return out, true
}

// wordAt returns the end of the word that starts at input[i] (i itself if
// none does) and whether it is numeric: digits and no letter.
func wordAt(input []byte, i int) (end int, numeric bool) {
	letters, digits := false, false
	j := i
	for ; j < len(input); j++ {
		c := wbClass[input[j]]
		switch c {
		case wbLetter:
			letters = true
			continue
		case wbDigit:
			digits = true
			continue
		case wbUnder:
			continue
		case wbMidLetter, wbMidNum, wbMidBoth:
			if j > i && j+1 < len(input) {
				prev, next := wbClass[input[j-1]], wbClass[input[j+1]]
				if prev == next && (prev == wbLetter && c != wbMidNum || prev == wbDigit && c != wbMidLetter) {
					continue // joins the two
				}
			}
		}
		break // the word ends before j
	}
	return j, digits && !letters
}
