package render

import (
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// Patterns shared by the bluemonday policy and the post-pass, which checks
// them again rather than trusting that the policy was configured right.
var (
	// Matrix colours are exactly # and six hex digits; anything else
	// (names, rgb(), "red; background:url(x)") is dropped, never passed on.
	colourRe = regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`)

	// The only class Matrix allows, for syntax highlighting.
	codeClassRe = regexp.MustCompile(`^language-[A-Za-z0-9_+-]{1,64}$`)

	// ol start is an integer; the length bound keeps it an int32.
	olStartRe = regexp.MustCompile(`^-?[0-9]{1,9}$`)

	// img width/height in CSS pixels.
	dimensionRe = regexp.MustCompile(`^[0-9]{1,5}$`)

	// Link targets. Checked on the raw (entity-decoded) value before
	// bluemonday parses the URL, so "java&#x09;script:" and " javascript:"
	// fail here; relative links, fragments, data: and mxc: never match.
	hrefRe = regexp.MustCompile(`(?i)^(?:https?://[^\s/?#]|mailto:|matrix:)`)

	// The only image source Matrix allows. The post-pass validates server
	// and media ID properly; this is the coarse first gate.
	imgSrcRe = regexp.MustCompile(`^mxc://[A-Za-z0-9.:\[\]-]+/[A-Za-z0-9_-]+$`)
)

// allowedTags is the spec's current list
// (https://spec.matrix.org/v1.16/client-server-api/#mroommessage-msgtypes) plus the legacy font and
// strike, which old events still contain. mx-reply is deliberately absent.
var allowedTags = []string{
	"del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
	"sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br",
	"div", "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span",
	"img", "details", "summary",
	"font", "strike",
}

// newPolicy builds the allowlist. Every rule is an explicit allow; bluemonday
// drops whatever is not listed (keeping the text of dropped tags, except for
// the skip-content elements).
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()

	p.AllowElements(allowedTags...)

	// Colours, validated here and turned into CSS by the post-pass; the
	// input's own style attributes are never allowed.
	p.AllowAttrs("data-mx-color", "data-mx-bg-color").Matching(colourRe).OnElements("span", "font")
	// Legacy <font color>, same format.
	p.AllowAttrs("color").Matching(colourRe).OnElements("font")

	// Spoiler with an optional free-text reason; the post-pass turns it into
	// a class and a title (the value is escaped on output).
	p.AllowAttrs("data-mx-spoiler").OnElements("span")

	// LaTeX source; inert data, the element's content is the rendered
	// fallback.
	p.AllowAttrs("data-mx-maths").OnElements("span", "div")

	// Absolute http(s), mailto and matrix: links only. Not target (links
	// stay in the tab) and not the legacy name (it would let a message
	// capture the page's #fragment navigation).
	p.AllowAttrs("href").Matching(hrefRe).OnElements("a")

	// Images: mxc only, which the post-pass maps through Options.MediaURL or
	// replaces by the alt text. Never a remote URL: that would make readers'
	// browsers fetch from wherever the sender likes.
	p.AllowAttrs("src").Matching(imgSrcRe).OnElements("img")
	p.AllowAttrs("width", "height").Matching(dimensionRe).OnElements("img")
	p.AllowAttrs("alt", "title").OnElements("img")

	// Ordered list numbering; clients that render ol must honour it.
	p.AllowAttrs("start").Matching(olStartRe).OnElements("ol")

	// Syntax highlighting hint only.
	p.AllowAttrs("class").Matching(codeClassRe).OnElements("code")

	// URL schemes are policy-wide in bluemonday, so mxc is listed for img
	// src; hrefRe above keeps it out of a href.
	p.AllowURLSchemes("http", "https", "mailto", "matrix", "mxc")
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)

	// The reply fallback must go with its content: by default bluemonday
	// keeps the text of a dropped element, which would show the quoted
	// message as if the replier wrote it.
	p.SkipElementsContent("mx-reply")

	return p
}
