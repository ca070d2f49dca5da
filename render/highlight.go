package render

import (
	"html/template"
	"sort"
	"strings"
	"unicode/utf8"
)

// snippetRunes is the length of a search result's snippet.
const snippetRunes = 300

// maxHighlightTerms bounds the distinct terms Highlight marks: each is
// looked for across the whole text once, so the cost is at most this many
// passes over it, whatever the query.
const maxHighlightTerms = 16

// Highlight escapes plain text and marks every case-insensitive occurrence
// of the terms (the first maxHighlightTerms distinct ones) with <mark>. A
// text longer than a snippet is cut around the first match, with ellipses.
func (r *Renderer) Highlight(text string, terms []string) template.HTML {
	lower := strings.ToLower(text)
	r.spend(len(text))
	// Lower-casing can change byte lengths (rarely); only trust matches
	// that fall on the same boundaries in the original.
	if len(lower) != len(text) {
		terms = nil
	}
	terms = highlightTerms(terms)
	from, to := 0, len(text)
	if utf8.RuneCountInString(text) > snippetRunes {
		// Start a third of a snippet before the first match (or at the
		// start), and take a snippet's worth of runes from there.
		from = len(text)
		for _, t := range terms {
			r.spend(len(lower))
			if j := strings.Index(lower, t); j >= 0 {
				from = min(from, j)
			}
		}
		if from == len(text) {
			from = 0
		}
		for n := 0; n < snippetRunes/3 && from > 0; n++ {
			_, size := utf8.DecodeLastRuneInString(text[:from])
			from -= size
		}
		to = from
		for n := 0; n < snippetRunes && to < len(text); n++ {
			_, size := utf8.DecodeRuneInString(text[to:])
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
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos := from
	for _, s := range spans {
		if s.start < pos {
			continue // overlaps a match already marked
		}
		b.WriteString(template.HTMLEscapeString(text[pos:s.start]))
		b.WriteString("<mark>")
		b.WriteString(template.HTMLEscapeString(text[s.start:s.end]))
		b.WriteString("</mark>")
		pos = s.end
	}
	b.WriteString(template.HTMLEscapeString(text[pos:to]))
	if to < len(text) {
		b.WriteString("…")
	}
	return template.HTML(b.String())
}

// highlightTerms returns the distinct non-empty terms, lower-cased, at most
// maxHighlightTerms of them.
func highlightTerms(terms []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range terms {
		t = strings.ToLower(strings.TrimSpace(t))
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
