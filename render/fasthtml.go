package render

import (
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// fastHTML renders, in one pass over its bytes, the formatted bodies most
// messages carry: what Markdown clients send (paragraphs, headings, lists,
// code, quotes, emphasis, links), well nested, in lower-case tags with the
// few attributes the policy keeps as they are. Its result is the bytes
// slowHTML gives the same input: the policy, the HTML parser, the post-pass
// and Render (TestFastHTMLAsSlow, FuzzFastHTMLAsSlow). ok is false for
// anything else, which takes slowHTML's full path; a refusal costs a scan
// of the bytes up to where it was found.
//
// An input is taken only where the HTML parser builds the tree its tags
// say, with nothing to repair: every element closed, innermost first, by
// its own end tag; block elements only where flow content may be (the
// top level, blockquote, li), li only in ul and ol, and inside p, a
// heading, pre or an inline element only text, inline elements and br; no
// link inside a link; no text at the start of a pre that begins with a
// line break (the parser drops it); nothing the parser or the policy
// would rewrite (a NUL, a carriage return, invalid UTF-8, an attribute
// value the policy would change or drop). What the post-pass adds is
// added: rel on links. A reply fallback (mx-reply) at the top level is
// dropped, as the policy drops it, where its content is of that shape
// too.
//
// Whatever the tests missed, what it writes is safe by construction:
// element names from its own list (all in outputTags), an href that
// passed hrefRe and parses as itself, a class or a start that passed the
// policy's pattern, rel, and text and values escaped as Render escapes
// them, every element closed and li only in a list.
//
// A message of the bench's Markdown shape (heading, paragraph, list, code
// block and link; 733 bytes) took 78-90 µs through slowHTML and 6 through
// this (BenchmarkMarkdownHTML): most of a first day page's CPU for rooms
// that write paragraphs.
func (r *Renderer) fastHTML(s string) (string, bool) {
	r.spend(len(s))
	if !utf8.ValidString(s) || nulOrCR(s) {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	// The open elements, outermost first.
	var stack [fastMaxDepth]string
	depth := 0
	// parent is the kind of the innermost open element (the top level is
	// flow content).
	parent := func() fastKind {
		if depth == 0 {
			return fastFlow
		}
		k, _ := fastKindOf(stack[depth-1])
		return k
	}
	// preStart: the last thing written is a pre's start tag.
	preStart := false
	for i := 0; i < len(s); {
		if s[i] != '<' {
			j := strings.IndexByte(s[i:], '<')
			if j < 0 {
				j = len(s) - i
			}
			text := s[i : i+j]
			i += j
			if parent() == fastList && strings.Trim(text, " \t\n\f") != "" {
				return "", false
			}
			if strings.IndexByte(text, '&') >= 0 {
				text = html.UnescapeString(text)
				if nulOrCR(text) {
					return "", false
				}
			}
			if preStart && text != "" && text[0] == '\n' {
				return "", false
			}
			preStart = false
			escapeText(&b, text)
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		if s[i+1] == '/' {
			k := i + 2
			for k < len(s) && lowerAlnum(s[k]) {
				k++
			}
			if k == i+2 || k >= len(s) || s[k] != '>' {
				return "", false
			}
			name := s[i+2 : k]
			if depth == 0 || stack[depth-1] != name {
				return "", false
			}
			depth--
			b.WriteString(s[i : k+1])
			preStart = false
			i = k + 1
			continue
		}
		if depth == 0 && strings.HasPrefix(s[i:], mxReplyStart) {
			// A reply fallback: the policy drops it whole, so the parser
			// never sees it. Taken where its content is of the shape
			// taken here, so that its first end tag is the one the
			// policy's tokenizer ends it at.
			content := s[i+len(mxReplyStart):]
			end := strings.Index(content, mxReplyEnd)
			if end < 0 {
				return "", false
			}
			if _, ok := r.fastHTML(content[:end]); !ok {
				return "", false
			}
			i += len(mxReplyStart) + end + len(mxReplyEnd)
			continue
		}
		k := i + 1
		for k < len(s) && lowerAlnum(s[k]) {
			k++
		}
		name := s[i+1 : k]
		kind, known := fastKindOf(name)
		if !known || !fastAllowed(parent(), name, kind) || name == "a" && slices.Contains(stack[:depth], "a") {
			return "", false
		}
		void := kind == fastVoidInline || kind == fastVoidBlock
		var key, val string
		attrs := 0
	tag:
		for {
			if k >= len(s) {
				return "", false
			}
			switch s[k] {
			case '>':
				k++
				break tag
			case '/':
				if !void || k+1 >= len(s) || s[k+1] != '>' {
					return "", false
				}
				k += 2
				break tag
			case ' ':
				k++
				if k < len(s) && (s[k] == '/' || s[k] == '>') {
					continue
				}
				n := k
				for k < len(s) && (s[k] >= 'a' && s[k] <= 'z' || s[k] == '-') {
					k++
				}
				if attrs > 0 || k == n || k+1 >= len(s) || s[k] != '=' || s[k+1] != '"' {
					return "", false
				}
				key = s[n:k]
				k += 2
				e := strings.IndexByte(s[k:], '"')
				if e < 0 {
					return "", false
				}
				val = s[k : k+e]
				k += e + 1
				attrs++
			default:
				return "", false
			}
		}
		b.WriteByte('<')
		b.WriteString(name)
		switch {
		case name == "a":
			href, ok := fastHref(key, val)
			if !ok {
				return "", false
			}
			b.WriteString(` href="`)
			escapeText(&b, href)
			b.WriteString(`" rel="` + linkRel + `"`)
		case attrs == 0:
		case name == "code" && key == "class" && codeClassRe.MatchString(val),
			name == "ol" && key == "start" && olStartRe.MatchString(val):
			// Neither pattern lets through a byte that needs escaping
			// or an entity.
			b.WriteString(" " + key + `="` + val + `"`)
		default:
			return "", false
		}
		if void {
			b.WriteString("/>")
		} else {
			if depth == fastMaxDepth {
				return "", false
			}
			stack[depth] = name
			depth++
			b.WriteByte('>')
		}
		preStart = name == "pre"
		i = k
	}
	if depth > 0 {
		return "", false
	}
	return b.String(), true
}

const (
	mxReplyStart = "<mx-reply>"
	mxReplyEnd   = "</mx-reply>"
)

// fastMaxDepth bounds the nesting fastHTML takes, well below MaxDepth.
const fastMaxDepth = 32

// The kinds of element fastHTML takes, by what they may contain.
type fastKind uint8

const (
	// fastInline: text, inline elements and br.
	fastInline fastKind = iota
	// fastPhrasing: a block holding what an inline element may (p, a
	// heading, pre).
	fastPhrasing
	// fastFlow: blocks, inline elements and text (blockquote, li).
	fastFlow
	// fastList: li, and white space between them (ul, ol).
	fastList
	fastVoidInline // br
	fastVoidBlock  // hr
)

// fastKindOf is the kind of the element name, if fastHTML takes it.
func fastKindOf(name string) (fastKind, bool) {
	switch name {
	case "a", "b", "i", "u", "s", "em", "strong", "del", "code", "sup", "sub":
		return fastInline, true
	case "p", "pre", "h1", "h2", "h3", "h4", "h5", "h6":
		return fastPhrasing, true
	case "blockquote", "li":
		return fastFlow, true
	case "ul", "ol":
		return fastList, true
	case "br":
		return fastVoidInline, true
	case "hr":
		return fastVoidBlock, true
	}
	return 0, false
}

// fastAllowed says whether the element name, of kind, may start inside
// an element of kind parent without the parser moving anything.
func fastAllowed(parent fastKind, name string, kind fastKind) bool {
	switch {
	case name == "li" || parent == fastList:
		return name == "li" && parent == fastList
	case parent == fastFlow:
		return true
	default: // in an inline element, a paragraph, a heading or pre
		return kind == fastInline || kind == fastVoidInline
	}
}

// fastHref is a link's href as the policy and the post-pass would keep
// it, from its attribute (key, and its value as written); ok is false
// where either would change or drop it, or its entities are other than
// &amp;.
func fastHref(key, val string) (string, bool) {
	if key != "href" {
		return "", false
	}
	if strings.IndexByte(val, '&') >= 0 {
		if strings.Count(val, "&") != strings.Count(val, "&amp;") {
			return "", false
		}
		val = strings.ReplaceAll(val, "&amp;", "&")
	}
	for i := 0; i < len(val); i++ {
		if c := val[i]; c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '\'' {
			return "", false
		}
	}
	if !hrefRe.MatchString(val) {
		return "", false
	}
	u, err := url.Parse(val)
	if err != nil || u.String() != val {
		return "", false
	}
	return val, true
}

// nulOrCR reports a NUL or a carriage return in s, which the parser
// drops or rewrites.
func nulOrCR(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || strings.IndexByte(s, '\r') >= 0
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// escapeText escapes s, which holds no carriage return, as html.Render
// escapes text and attribute values.
func escapeText(b *strings.Builder, s string) { writeEscaped(b, s, &renderEscapes) }
