package render

import (
	"strconv"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlText converts Matrix HTML to readable plain text. It reads the
// sanitized tree, so the reply fallback and script or style content are
// already gone. Spoilers stay hidden, as in the fallback body clients send.
func (r *Renderer) htmlText(formatted string) string {
	root, ok := r.parse(formatted)
	if !ok {
		return strings.TrimSpace(tokenText(r.policy.Sanitize(formatted)))
	}
	w := textWriter{spend: r.spend}
	w.children(root, false)
	return w.String()
}

// textWriter accumulates text with HTML's whitespace rules outside pre.
type textWriter struct {
	spend func(int)
	b     strings.Builder
	nl    int  // newlines at the end of b
	space bool // whitespace seen since the last word, not yet written
}

// children writes n's children. List items are numbered here, counting
// as it goes: numbering each item by counting its previous siblings cost
// quadratic time in a list of thousands of items.
func (w *textWriter) children(n *html.Node, pre bool) {
	ordered := n.Type == html.ElementNode && n.DataAtom == atom.Ol
	num := 1
	if s, ok := attr(n, "start"); ordered && ok && olStartRe.MatchString(s) {
		num, _ = strconv.Atoi(s)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		// "- " in unordered lists and "N. " in ordered ones, honouring start.
		marker := "- "
		if ordered && c.Type == html.ElementNode && c.DataAtom == atom.Li {
			marker = strconv.Itoa(num) + ". "
			num++
		}
		w.node(c, pre, marker)
	}
}

// node writes one node; marker starts it when it is a list item.
func (w *textWriter) node(n *html.Node, pre bool, marker string) {
	w.spend(1 + len(n.Data))
	switch n.Type {
	case html.TextNode:
		if pre {
			w.raw(n.Data)
		} else {
			w.flow(n.Data)
		}
		return
	case html.ElementNode:
	default:
		return
	}
	switch n.DataAtom {
	case atom.Br:
		w.newline()
	case atom.Img:
		// Alt text is a word of its own, not glued to its neighbours.
		if alt, _ := attr(n, "alt"); strings.TrimSpace(alt) != "" {
			w.space = true
			w.flow(alt)
			w.space = true
		}
	case atom.Span:
		if _, ok := attr(n, "data-mx-spoiler"); ok {
			w.flow("[spoiler]")
			return
		}
		w.children(n, pre)
	case atom.Li:
		w.block()
		w.raw(marker)
		w.children(n, pre)
		w.block()
	case atom.Td, atom.Th:
		w.space = true
		w.children(n, pre)
		w.space = true
	case atom.Pre:
		w.block()
		w.children(n, true)
		w.block()
	case atom.P, atom.Div, atom.Blockquote, atom.H1, atom.H2, atom.H3, atom.H4,
		atom.H5, atom.H6, atom.Ul, atom.Ol, atom.Table, atom.Thead, atom.Tbody,
		atom.Tr, atom.Caption, atom.Hr, atom.Details, atom.Summary:
		w.block()
		w.children(n, pre)
		w.block()
	default:
		w.children(n, pre)
	}
}

// flow writes text with runs of whitespace collapsed to one space.
func (w *textWriter) flow(s string) {
	for i, word := range strings.Fields(s) {
		if i > 0 || w.space || startsWithSpace(s) {
			w.space = true
		}
		if w.space && w.nl == 0 && w.b.Len() > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(word)
		w.nl, w.space = 0, false
	}
	if s != "" && isSpace(s[len(s)-1]) {
		w.space = true
	}
}

// raw writes text as is (inside pre).
func (w *textWriter) raw(s string) {
	if s == "" {
		return
	}
	if w.space && w.nl == 0 && w.b.Len() > 0 {
		w.b.WriteByte(' ')
	}
	w.space = false
	w.b.WriteString(s)
	trimmed := strings.TrimRight(s, "\n")
	if trimmed == "" {
		w.nl += len(s)
	} else {
		w.nl = len(s) - len(trimmed)
	}
}

func (w *textWriter) newline() {
	w.b.WriteByte('\n')
	w.nl++
	w.space = false
}

// block ends the current line, if any, so a block starts on its own.
func (w *textWriter) block() {
	if w.b.Len() > 0 && w.nl == 0 {
		w.newline()
	}
	w.space = false
}

// String returns the text with trailing spaces and runs of blank lines
// removed.
func (w *textWriter) String() string {
	w.spend(w.b.Len())
	lines := strings.Split(w.b.String(), "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Trim(strings.Join(out, "\n"), "\n")
}

func startsWithSpace(s string) bool { return s != "" && isSpace(s[0]) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }
