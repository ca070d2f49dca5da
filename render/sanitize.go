package render

import (
	"html/template"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// MaxDepth is the deepest element nesting HTML keeps
// (https://spec.matrix.org/v1.16/client-server-api/#mroommessage-msgtypes: at most 100 levels).
// Elements below it are unwrapped: their text stays, their tags go.
const MaxDepth = 100

// linkRel goes on every link: the archive vouches for none of them (nofollow,
// ugc) and no target page gets a handle on ours (noopener).
const linkRel = "nofollow ugc noopener"

// maxSpoilerReason bounds the title text taken from data-mx-spoiler.
const maxSpoilerReason = 200

// CSS holds the style rules the markup from this package relies on. Spoilers
// are hidden by CSS alone, so a page that omits these rules shows them.
// Inline colours inside a spoiler lose to !important, images to visibility.
const CSS = `.spoiler:not(:hover):not(:focus){background-color:#5c5c5c!important;color:transparent!important;border-radius:.2em;cursor:help}
.spoiler:not(:hover):not(:focus) *{visibility:hidden}
`

// outputAttrs is the post-pass's own allowlist: the attributes each element
// may carry in what HTML returns. It repeats the policy on purpose, so a
// mistake in either one alone does not reach a page.
var outputAttrs = map[atom.Atom]map[string]bool{
	atom.A:    {"href": true, "rel": true},
	atom.Img:  {"src": true, "alt": true, "title": true, "width": true, "height": true, "loading": true},
	atom.Span: {"style": true, "class": true, "tabindex": true, "title": true, "data-mx-maths": true},
	atom.Div:  {"data-mx-maths": true},
	atom.Ol:   {"start": true},
	atom.Code: {"class": true},
}

// outputTags are the elements HTML may return. font and strike are not
// among them: the post-pass rewrites them to span and del.
var outputTags = func() map[atom.Atom]bool {
	m := map[atom.Atom]bool{}
	for _, t := range allowedTags {
		a := atom.Lookup([]byte(t))
		if a == 0 {
			// Every unknown element has atom 0; allowing 0 would allow them all.
			panic("render: allowed tag " + t + " has no atom")
		}
		m[a] = true
	}
	delete(m, atom.Font)
	delete(m, atom.Strike)
	return m
}()

// HTML sanitizes Matrix HTML (format org.matrix.custom.html) for display.
// The result is block-level content: put it in a div, not a p.
func (r *Renderer) HTML(formatted string) template.HTML {
	if out, ok := r.fastHTML(formatted); ok {
		return template.HTML(out)
	}
	return r.slowHTML(formatted)
}

// slowHTML is HTML for any input: the bluemonday policy, the HTML parser,
// the post-pass over the tree, and Render.
func (r *Renderer) slowHTML(formatted string) template.HTML {
	root, ok := r.parse(formatted)
	if !ok {
		// Only nesting past the parser's limit (512) gets here. No real
		// client sends that, so keeping the text is enough.
		return escapeLines(tokenText(r.policy.Sanitize(formatted)))
	}
	r.clean(root, 0)
	var b strings.Builder
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			// Render fails only on trees a parser cannot produce (a void
			// element with children). Refuse rather than emit half a tree.
			return escapeLines(tokenText(r.policy.Sanitize(formatted)))
		}
	}
	return template.HTML(b.String())
}

// parse runs the bluemonday policy and parses its output as the children of
// a div, which it returns. ok is false when the parser refuses the input.
func (r *Renderer) parse(formatted string) (root *html.Node, ok bool) {
	root = &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	// The sanitizer and the parser are counted as linear in their input;
	// BenchmarkHostile measures them.
	r.spend(2 * len(formatted))
	clean := r.policy.Sanitize(formatted)
	if clean == "" {
		return root, true
	}
	nodes, err := html.ParseFragment(strings.NewReader(clean), root)
	if err != nil {
		return nil, false
	}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	return root, true
}

// clean is the post-pass over the sanitized tree. It caps nesting, rewrites
// what bluemonday kept in Matrix form (colours, spoilers, mxc images, legacy
// tags) into browser form, and reapplies an attribute allowlist. depth is
// the nesting of parent below the root.
func (r *Renderer) clean(parent *html.Node, depth int) {
	for c := parent.FirstChild; c != nil; {
		next := c.NextSibling
		r.spend(1)
		switch c.Type {
		case html.TextNode:
		case html.ElementNode:
			if depth >= MaxDepth || !outputTags[c.DataAtom] && !legacyTag(c.DataAtom) || strayListItem(c, parent) {
				// Unwrap and go on with the first lifted child, which is
				// checked at this same depth.
				if first := unwrap(c); first != nil {
					next = first
				}
				break
			}
			if repl := r.cleanElement(c); repl != c {
				parent.InsertBefore(repl, c)
				parent.RemoveChild(c)
				break
			}
			r.clean(c, depth+1)
		default:
			// Comments and doctypes: bluemonday already drops them.
			parent.RemoveChild(c)
		}
		c = next
	}
}

func legacyTag(a atom.Atom) bool { return a == atom.Font || a == atom.Strike }

// strayListItem reports an li outside a list. Pages put each message inside
// an li of their own, and a browser parsing the page ends that li at a
// message's stray li start tag (through div, p and inline elements),
// so the rest of the message would spill out of its item; found by the
// hostile-HTML browser test.
func strayListItem(n, parent *html.Node) bool {
	return n.DataAtom == atom.Li && parent.DataAtom != atom.Ul && parent.DataAtom != atom.Ol
}

// unwrap replaces n by its children and returns the first of them.
func unwrap(n *html.Node) *html.Node {
	parent, first := n.Parent, n.FirstChild
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		n.RemoveChild(c)
		parent.InsertBefore(c, n)
		c = next
	}
	parent.RemoveChild(n)
	return first
}

// cleanElement rewrites one element in place, or returns the node to
// replace it with (an image that cannot be shown becomes its alt text).
func (r *Renderer) cleanElement(n *html.Node) *html.Node {
	switch n.DataAtom {
	case atom.Img:
		if repl := r.cleanImage(n); repl != nil {
			return repl
		}
	case atom.A:
		href, _ := attr(n, "href")
		if !hrefRe.MatchString(href) {
			// Cannot happen after the policy; keep the text, not the link.
			n.DataAtom, n.Data = atom.Span, "span"
			n.Attr = nil
			return n
		}
		n.Attr = []html.Attribute{{Key: "href", Val: href}, {Key: "rel", Val: linkRel}}
	case atom.Span, atom.Font:
		cleanSpan(n)
	case atom.Strike:
		n.DataAtom, n.Data = atom.Del, "del"
	case atom.Code:
		if class, ok := attr(n, "class"); ok && !codeClassRe.MatchString(class) {
			delAttr(n, "class")
		}
	case atom.Ol:
		if start, ok := attr(n, "start"); ok && !olStartRe.MatchString(start) {
			delAttr(n, "start")
		}
	}
	keepAttrs(n)
	return n
}

// cleanImage maps an mxc src through MediaURL. When that is impossible it
// returns the "[alt]" text node that stands in for the image.
func (r *Renderer) cleanImage(n *html.Node) *html.Node {
	src, _ := attr(n, "src")
	server, mediaID, ok := parseMXC(src)
	if !ok || r.mediaURL == nil {
		alt, _ := attr(n, "alt")
		alt = strings.TrimSpace(alt)
		if alt == "" {
			alt = "image"
		}
		return &html.Node{Type: html.TextNode, Data: "[" + alt + "]"}
	}
	setAttr(n, "src", r.mediaURL(server, mediaID))
	for _, dim := range []string{"width", "height"} {
		if v, ok := attr(n, dim); ok && !dimensionRe.MatchString(v) {
			delAttr(n, dim)
		}
	}
	setAttr(n, "loading", "lazy")
	return nil
}

// cleanSpan turns validated Matrix colours into an inline style and a
// spoiler into something CSS can hide until hover or keyboard focus.
// Legacy font becomes span.
func cleanSpan(n *html.Node) {
	fg, _ := attr(n, "data-mx-color")
	if fg == "" {
		fg, _ = attr(n, "color")
	}
	bg, _ := attr(n, "data-mx-bg-color")
	spoiler, isSpoiler := attr(n, "data-mx-spoiler")
	if n.DataAtom != atom.Span {
		isSpoiler = false // spoilers are span-only in the spec
	}
	maths, hasMaths := attr(n, "data-mx-maths")

	n.DataAtom, n.Data = atom.Span, "span"
	n.Attr = nil
	var style []string
	if colourRe.MatchString(fg) {
		style = append(style, "color:"+strings.ToLower(fg))
	}
	if colourRe.MatchString(bg) {
		style = append(style, "background-color:"+strings.ToLower(bg))
	}
	if len(style) > 0 {
		n.Attr = append(n.Attr, html.Attribute{Key: "style", Val: strings.Join(style, ";")})
	}
	if isSpoiler {
		title := "Spoiler"
		if reason := truncate(strings.TrimSpace(spoiler), maxSpoilerReason); reason != "" {
			title += ": " + reason
		}
		n.Attr = append(n.Attr,
			html.Attribute{Key: "class", Val: "spoiler"},
			html.Attribute{Key: "tabindex", Val: "0"},
			html.Attribute{Key: "title", Val: title})
	}
	if hasMaths {
		n.Attr = append(n.Attr, html.Attribute{Key: "data-mx-maths", Val: maths})
	}
}

// truncate cuts s to at most n runes, on a rune boundary.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos] + "…"
		}
		i++
	}
	return s
}

// keepAttrs drops every attribute outputAttrs does not list for n, including
// any namespaced one.
func keepAttrs(n *html.Node) {
	allowed := outputAttrs[n.DataAtom]
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Namespace == "" && allowed[a.Key] {
			kept = append(kept, a)
		}
	}
	n.Attr = kept
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func setAttr(n *html.Node, key, val string) {
	for i, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			n.Attr[i].Val = val
			return
		}
	}
	n.Attr = append(n.Attr, html.Attribute{Key: key, Val: val})
}

func delAttr(n *html.Node, key string) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		if a.Namespace != "" || a.Key != key {
			kept = append(kept, a)
		}
	}
	n.Attr = kept
}

// tokenText returns the text of an HTML fragment without any markup.
func tokenText(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.SelfClosingTagToken:
			if name, _ := z.TagName(); string(name) == "br" {
				b.WriteByte('\n')
			}
		}
	}
}
