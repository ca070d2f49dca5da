package render

import (
	"html/template"
	"sort"
	"strings"
	"unicode/utf8"
)

// snippetRunes is the length of a search result's snippet.
const snippetRunes = 300

// Highlight escapes plain text and marks every case-insensitive occurrence
// of the terms with <mark>. A text longer than a snippet is cut around the
// first match, with ellipses.
func (r *Renderer) Highlight(text string, terms []string) template.HTML {
	lower := strings.ToLower(text)
	type span struct{ start, end int }
	var spans []span
	for _, t := range terms {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		for i := 0; ; {
			j := strings.Index(lower[i:], t)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(t)})
			i += j + len(t)
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	// Lower-casing can change byte lengths (rarely); only trust spans that
	// fall on the same boundaries in the original.
	if len(lower) != len(text) {
		spans = nil
	}
	from, to := 0, len(text)
	if utf8.RuneCountInString(text) > snippetRunes {
		// Start a third of a snippet before the first match (or at the
		// start), and take a snippet's worth of runes from there.
		from = 0
		if len(spans) > 0 {
			from = spans[0].start
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
	var b strings.Builder
	if from > 0 {
		b.WriteString("…")
	}
	pos := from
	for _, s := range spans {
		if s.start < pos || s.end > to {
			continue
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
