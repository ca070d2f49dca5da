package render

import (
	"html/template"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// snippetRunes is the length of a search result's snippet.
const snippetRunes = 300

// maxHighlightTerms bounds the distinct terms Highlight marks: each is
// looked for across the whole text once, so the cost is at most this many
// passes over it, whatever the query.
const maxHighlightTerms = 16

// Highlight escapes plain text and marks every case-insensitive occurrence
// of the terms (the first maxHighlightTerms distinct ones) with <mark>, σ
// and ς counting as one letter (see lowerRunes). A text longer than a
// snippet is cut around the first match, with ellipses.
func (r *Renderer) Highlight(text string, terms []string) template.HTML {
	lower, shifts := lowerRunes(text)
	r.spend(len(text))
	terms = highlightTerms(terms)
	// Offsets are in lower, which has the same runes as text, one for one,
	// so counting runes in it counts them in text.
	from, to := 0, len(lower)
	if utf8.RuneCountInString(lower) > snippetRunes {
		// Start a third of a snippet before the first match (or at the
		// start), and take a snippet's worth of runes from there.
		from = len(lower)
		for _, t := range terms {
			r.spend(len(lower))
			if j := strings.Index(lower, t); j >= 0 {
				from = min(from, j)
			}
		}
		if from == len(lower) {
			from = 0
		}
		for n := 0; n < snippetRunes/3 && from > 0; n++ {
			_, size := utf8.DecodeLastRuneInString(lower[:from])
			from -= size
		}
		to = from
		for n := 0; n < snippetRunes && to < len(lower); n++ {
			_, size := utf8.DecodeRuneInString(lower[to:])
			to += size
		}
	}
	// Matches are looked for only inside the snippet.
	type span struct{ start, end int }
	var spans []span
	window := lower[from:to]
	for _, t := range terms {
		r.spend(len(window))
		for i := 0; ; {
			j := strings.Index(window[i:], t)
			if j < 0 {
				break
			}
			spans = append(spans, span{from + i + j, from + i + j + len(t)})
			i += j + len(t)
		}
	}
	// Stable: of two terms matching at one place, the first listed is marked.
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	// The offsets written out only grow (from, the marked spans, to), so
	// one walk over the shifts maps them all to text.
	at := offsetMapper{shifts: shifts}
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos := from
	textPos := at.text(from)
	for _, s := range spans {
		if s.start < pos {
			continue // overlaps a match already marked
		}
		start, end := at.text(s.start), at.text(s.end)
		b.WriteString(template.HTMLEscapeString(text[textPos:start]))
		b.WriteString("<mark>")
		b.WriteString(template.HTMLEscapeString(text[start:end]))
		b.WriteString("</mark>")
		pos, textPos = s.end, end
	}
	b.WriteString(template.HTMLEscapeString(text[textPos:at.text(to)]))
	if to < len(lower) {
		b.WriteString("…")
	}
	return template.HTML(b.String())
}

// shift is where, after a rune whose lower case has another byte length
// (or an invalid byte, which lowers to U+FFFD), the offsets of the lowered
// text and of the original part: lower[lower:] and text[text:] start at
// the same rune.
type shift struct{ lower, text int }

// lowerRunes lower-cases text rune by rune with unicode.ToLower, as
// highlightTerms lower-cases the terms, and folds the final sigma ς to σ
// (foldTerm); it returns the shifts that map lowered offsets back to
// text's. The index lower-cases its words the same way except that a
// capital Σ ending a word becomes ς (indexer's lowerFilter), so "ΟΔΟΣ" is
// found by οδος, as Greek is written, and "οδος" by ΟΔΟΣ: without the fold
// neither was marked, and a long message's snippet was its start. Folding
// marks a little more than the index matches ("οδοσ" and "οδος" mark each
// other), as marking a term inside a longer word already does. The index
// also applies NFKC before lower-casing, which this does not: a fullwidth
// "ｐｏｄｍａｎ" is found by podman but not marked.
//
// Lower-casing can change a rune's byte length: "İ" (2 bytes) lowers to
// "i" (1), the Kelvin sign (3) to "k" (1), "Ⱥ" (2) to "ⱥ" (3), an invalid
// byte (1) to U+FFFD (3); ς and σ are both 2 bytes. Giving up on such a
// text left its snippet as its first 300 characters, unmarked, even when
// the word searched for was further on; and a shorter lowered text was
// sliced past its end, a panic on every search page listing a short
// message with an İ.
func lowerRunes(text string) (string, []shift) {
	var b strings.Builder
	b.Grow(len(text))
	var shifts []shift
	for i := 0; i < len(text); {
		if c := text[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		l := unicode.ToLower(r)
		if l == 'ς' {
			l = 'σ'
		}
		n, _ := b.WriteRune(l)
		i += size
		if n != size {
			shifts = append(shifts, shift{b.Len(), i})
		}
	}
	return b.String(), shifts
}

// offsetMapper maps offsets of the lowered text that fall between runes to
// offsets of the original, for offsets asked in increasing order: each
// shift is passed once, so mapping costs one walk in all.
type offsetMapper struct {
	shifts []shift
	last   shift // the last shift at or before the offset last asked
}

func (m *offsetMapper) text(lower int) int {
	for len(m.shifts) > 0 && m.shifts[0].lower <= lower {
		m.last, m.shifts = m.shifts[0], m.shifts[1:]
	}
	// No rune between the last shift and lower changed length.
	return m.last.text + lower - m.last.lower
}

// highlightTerms returns the distinct non-empty terms, lower-cased and
// with ς folded to σ as lowerRunes does the text, at most
// maxHighlightTerms of them.
func highlightTerms(terms []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range terms {
		t = foldTerm(strings.ToLower(strings.TrimSpace(t)))
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
		if len(out) == maxHighlightTerms {
			break
		}
	}
	return out
}

// foldTerm folds the final sigma ς to σ in a lower-cased term, as
// lowerRunes does in the text: the two are one letter to the index when
// the text is in capitals (ΟΔΟΣ is the word οδος).
func foldTerm(t string) string {
	if !strings.ContainsRune(t, 'ς') {
		return t
	}
	return strings.ReplaceAll(t, "ς", "σ")
}
