package render

import (
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"
)

// urlRe finds link candidates in plain text. Only http(s): other schemes
// in chat text are far more often prose than links, and javascript: must
// never become one. \b keeps "xhttp://" from matching mid-word.
var urlRe = regexp.MustCompile(`(?i)\bhttps?://[^\s<>"]+`)

// Plain escapes plain text, turns http(s) URLs into links and keeps line
// breaks as <br>. It does not strip reply fallbacks; Message does.
func (r *Renderer) Plain(text string) template.HTML {
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	last := 0
	for _, m := range urlRe.FindAllStringIndex(text, -1) {
		start, end := m[0], m[0]+linkLength(text[m[0]:m[1]])
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
	}
	writeEscapedLines(&b, text[last:])
	return template.HTML(b.String())
}

// linkLength returns how much of the candidate is the URL: trailing
// sentence punctuation is not, nor a closing bracket without its opening
// one ("(see https://example.org/a_(b))."). 0 means no link at all.
func linkLength(cand string) int {
	for cand != "" {
		last := cand[len(cand)-1]
		switch {
		case strings.IndexByte(".,;:!?'*", last) >= 0:
		case last == ')' && strings.Count(cand, ")") > strings.Count(cand, "("):
		case last == ']' && strings.Count(cand, "]") > strings.Count(cand, "["):
		case last == '}' && strings.Count(cand, "}") > strings.Count(cand, "{"):
		default:
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
func writeEscapedLines(b *strings.Builder, s string) {
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			return
		}
		b.WriteString(html.EscapeString(s[:i]))
		b.WriteString("<br>")
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

// escapeLines is writeEscapedLines for a whole string.
func escapeLines(s string) template.HTML {
	var b strings.Builder
	writeEscapedLines(&b, s)
	return template.HTML(b.String())
}
