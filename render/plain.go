package render

import (
	"html"
	"html/template"
	"net/url"
	"strings"
)

// MaxLinks is how many URLs one plain-text body gets as links; the rest
// stay text. Real messages hold a handful; a body of thousands of "http://a"
// would otherwise become thousands of anchors, each parsed as a URL.
const MaxLinks = 200

// Plain escapes plain text, turns http(s) URLs into links (at most MaxLinks)
// and keeps line breaks as <br>. It does not strip reply fallbacks; Message
// does. Its cost is linear in len(text): each byte is scanned a bounded
// number of times.
func (r *Renderer) Plain(text string) template.HTML {
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	last, links := 0, 0
	for pos := 0; links < MaxLinks; {
		start, candEnd := r.nextLinkCandidate(text, pos)
		if start < 0 {
			break
		}
		pos = candEnd
		end := start + r.linkLength(text[start:candEnd])
		if end == start {
			continue
		}
		writeEscapedLines(&b, text[last:start])
		link := text[start:end]
		b.WriteString(`<a href="`)
		b.WriteString(html.EscapeString(link))
		b.WriteString(`" rel="` + linkRel + `">`)
		b.WriteString(html.EscapeString(link))
		b.WriteString(`</a>`)
		last = end
		links++
	}
	r.spend(len(text) - last)
	writeEscapedLines(&b, text[last:])
	return template.HTML(b.String())
}

// nextLinkCandidate finds the next link candidate at or after pos:
// "http://" or "https://" (any case) at a word boundary, then everything up
// to whitespace, <, > or ". Only http(s): other schemes in chat text are far
// more often prose than links, and javascript: must never become one. The
// boundary keeps "xhttp://" from matching mid-word. It returns -1 when there
// is none. A hand-written scan rather than a regexp: FindAll with Go's
// backtracker clears a bit vector the size of the input for every match.
func (r *Renderer) nextLinkCandidate(text string, pos int) (start, end int) {
	for i := pos; i < len(text); i++ {
		r.spend(1)
		c := text[i]
		if c != 'h' && c != 'H' || i > 0 && isWordByte(text[i-1]) {
			continue
		}
		n := schemeLen(text[i:])
		if n == 0 {
			continue
		}
		end := i + n
		for end < len(text) && !endsLink(text[end]) {
			end++
		}
		r.spend(end - i)
		if end > i+n {
			return i, end
		}
	}
	return -1, -1
}

// schemeLen is the length of a leading "http://" or "https://", compared
// ASCII-case-insensitively, or 0.
func schemeLen(s string) int {
	for _, scheme := range []string{"http://", "https://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return len(scheme)
		}
	}
	return 0
}

// isWordByte is \w in ASCII: what a link may not directly follow.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// endsLink reports whether c ends a link candidate: ASCII whitespace, or a
// character that cannot be in an unquoted URL in text. Bytes of multi-byte
// UTF-8 characters never match, so they stay inside.
func endsLink(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\f', '\r', '<', '>', '"':
		return true
	}
	return false
}

// linkLength returns how much of the candidate is the URL: trailing
// sentence punctuation is not, nor a closing bracket without its opening
// one ("(see https://example.org/a_(b))."). 0 means no link at all. The
// brackets are counted once and the counts kept as the end is trimmed, so
// the cost is linear in the candidate's length.
func (r *Renderer) linkLength(cand string) int {
	r.spend(len(cand))
	var open, closed [3]int // (), [], {}
	for i := 0; i < len(cand); i++ {
		if k := strings.IndexByte("([{", cand[i]); k >= 0 {
			open[k]++
		} else if k := strings.IndexByte(")]}", cand[i]); k >= 0 {
			closed[k]++
		}
	}
	for cand != "" {
		r.spend(1)
		last := cand[len(cand)-1]
		k := strings.IndexByte(")]}", last)
		switch {
		case strings.IndexByte(".,;:!?'*", last) >= 0:
		case k >= 0 && closed[k] > open[k]:
			closed[k]--
		default:
			r.spend(len(cand))
			u, err := url.Parse(cand)
			if err != nil || u.Host == "" {
				return 0
			}
			return len(cand)
		}
		cand = cand[:len(cand)-1]
	}
	return 0
}

// writeEscapedLines writes s escaped, with each line break as <br>. A CR LF
// pair is one break.
//
// One pass over the bytes, the runs between escapes written at once: it
// split the lines first and had html.EscapeString make each escaped line
// a string of its own, which was half of rendering a first JSON day's
// IRC lines (TestEscapedLinesAsEscapeString).
func writeEscapedLines(b *strings.Builder, s string) { writeEscaped(b, s, &lineEscapes) }

// writeEscaped writes s with each byte that escapes has a text for
// replaced by it, a CR LF pair by the text for CR.
func writeEscaped(b *strings.Builder, s string, escapes *[256]string) {
	written := 0
	for i := 0; i < len(s); i++ {
		repl := escapes[s[i]]
		if repl == "" {
			continue
		}
		b.WriteString(s[written:i])
		b.WriteString(repl)
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		written = i + 1
	}
	b.WriteString(s[written:])
}

// lineEscapes is what writeEscapedLines writes for a byte in its place:
// html.EscapeString's five escapes, and a line break. Each is ASCII, never
// a byte of a multi-byte UTF-8 sequence, so a byte loop escapes what
// EscapeString does.
var lineEscapes = [256]string{
	'<': "&lt;", '>': "&gt;", '&': "&amp;", '\'': "&#39;", '"': "&#34;",
	'\n': "<br>", '\r': "<br>",
}

// renderEscapes are html.EscapeString's five escapes, which html.Render
// writes for text and attribute values (and &#13; for a carriage return,
// which fastHTML never writes).
var renderEscapes = [256]string{
	'<': "&lt;", '>': "&gt;", '&': "&amp;", '\'': "&#39;", '"': "&#34;",
}

// escapeLines is writeEscapedLines for a whole string.
func escapeLines(s string) template.HTML {
	var b strings.Builder
	writeEscapedLines(&b, s)
	return template.HTML(b.String())
}
