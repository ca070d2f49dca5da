package event

import "strings"

// StripReplyFallbackText removes the legacy plain-text reply fallback
// (https://spec.matrix.org/v1.16/client-server-api/#rich-replies: removed from the spec in v1.13,
// still in old events, which clients should strip) from a body, so that the quoted text is neither shown nor
// indexed as the replier's words. Call it only for events that have an
// m.in_reply_to; the function itself sees only the body.
//
// Like mautrix's TrimReplyFallbackText it acts only when the body starts with
// "> <" (the "> <@user:server> …" first line) or "> * <" (emotes) and
// contains a newline: a body that merely starts with a quote is the sender's
// own text. It then drops the leading quote lines — lines starting with "> ",
// and lines that are exactly ">" (an empty quoted line whose trailing space a
// client trimmed) — and then the blank separator line(s). Unlike mautrix it
// does not TrimSpace the rest, so the reply's own indentation and trailing
// text survive. CRLF line ends are understood and kept in what remains. A
// body that was nothing but fallback strips to "".
func StripReplyFallbackText(body string) string {
	if !strings.HasPrefix(body, "> <") && !strings.HasPrefix(body, "> * <") {
		return body
	}
	if !strings.Contains(body, "\n") {
		return body
	}
	rest := body
	for rest != "" {
		line, after, found := strings.Cut(rest, "\n")
		line = strings.TrimSuffix(line, "\r")
		if !strings.HasPrefix(line, "> ") && line != ">" {
			break
		}
		rest = after
		if !found {
			rest = ""
		}
	}
	for rest != "" {
		line, after, found := strings.Cut(rest, "\n")
		if strings.TrimSpace(line) != "" {
			break
		}
		rest = after
		if !found {
			rest = ""
		}
	}
	return rest
}

// StripReplyFallbackHTML removes the legacy HTML reply fallback: when the
// HTML, after leading whitespace, begins with an <mx-reply> element, that
// element and everything nested in it are removed. Tag names match
// case-insensitively and nested <mx-reply> elements (from clients that quoted
// an unstripped reply) are balanced, so the removal ends at the matching
// close tag rather than the first one, unlike mautrix's non-greedy regexp.
//
// When the element is never closed nothing is removed: it is impossible to
// tell where the quote ends and the reply starts, and dropping the rest
// could delete the sender's own words. The sanitizer skips mx-reply content
// anyway (SkipElementsContent), so the quote is not shown either way.
func StripReplyFallbackHTML(html string) string {
	s := strings.TrimLeft(html, " \t\r\n\f")
	if !isMxReplyTag(s, 0, false) {
		return html
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '<' {
			continue
		}
		switch {
		case isMxReplyTag(s, i, false):
			depth++
		case isMxReplyTag(s, i, true):
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return html
			}
			depth--
			if depth == 0 {
				return s[i+end+1:]
			}
			i += end
		}
	}
	return html
}

// isMxReplyTag reports whether s[i:] starts an <mx-reply> tag (or
// </mx-reply> when closing), compared ASCII-case-insensitively so that byte
// offsets stay valid, and followed by a character that ends the tag name.
func isMxReplyTag(s string, i int, closing bool) bool {
	name := "<mx-reply"
	if closing {
		name = "</mx-reply"
	}
	if len(s)-i <= len(name) {
		return false
	}
	for j := 0; j < len(name); j++ {
		c := s[i+j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[j] {
			return false
		}
	}
	switch s[i+len(name)] {
	case '>', ' ', '\t', '\r', '\n', '\f', '/':
		return true
	}
	return false
}
