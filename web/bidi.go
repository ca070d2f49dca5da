package web

import (
	"strings"

	"golang.org/x/text/unicode/bidi"
)

// isolated is s for plain text, where no element can isolate it (a page's
// <title>, its link-preview title and description): between U+2068 (first
// strong isolate) and U+2069 (pop directional isolate), without isolate
// controls of its own, which would end that one early or open another,
// when s holds right-to-left text or a bidi control that could turn the
// archive's words around it (a room named with U+202E, right-to-left
// override, made a tab read "etis · 2026-01-01 no"); else s as it is,
// which nothing around it can turn.
func isolated(s string) string {
	if !strings.ContainsFunc(s, turnsText) {
		return s
	}
	return "\u2068" + strings.Map(func(r rune) rune {
		if r >= '\u2066' && r <= '\u2069' {
			return -1
		}
		return r
	}, s) + "\u2069"
}

// turnsText says whether r is right-to-left or a bidi control.
func turnsText(r rune) bool {
	p, _ := bidi.LookupRune(r)
	switch p.Class() {
	case bidi.R, bidi.AL, bidi.LRE, bidi.RLE, bidi.LRO, bidi.RLO, bidi.PDF, bidi.LRI, bidi.RLI, bidi.FSI, bidi.PDI:
		return true
	}
	return false
}
