package render

import (
	"html/template"
	"strconv"
	"strings"
	"time"
)

// Markup builds HTML from markup the program spells out and values it
// escapes, for the part of a page that repeats hundreds of times (a
// timeline's items): html/template spends most of a day page's time in
// reflection there. Values are escaped exactly as html/template escapes
// them in the same places (TestMarkupEscapesAsTemplates holds the two
// together), so a page whose items are built with it has the bytes it
// would have had from templates alone. The zero Markup is empty and ready.
type Markup struct {
	b []byte
}

// markup is HTML spelled out in the program: Lit's parameter. It is
// unexported, so outside this package only an untyped string constant
// converts to it: no string read from a request, an event or the store
// can be passed off as markup.
type markup string

// MarkupOn returns a Markup that appends to b (a lent buffer, holding
// what the caller wrote before: markup the caller vouches for).
func MarkupOn(b []byte) *Markup { return &Markup{b: b} }

// Grow makes room for n more bytes.
func (m *Markup) Grow(n int) {
	if cap(m.b)-len(m.b) < n {
		b := make([]byte, len(m.b), 2*cap(m.b)+n)
		copy(b, m.b)
		m.b = b
	}
}

// Lit appends markup spelled out in the program.
func (m *Markup) Lit(s markup) { m.b = append(m.b, s...) }

// HTML appends HTML that is safe already (rendered by this package).
func (m *Markup) HTML(h template.HTML) { m.b = append(m.b, h...) }

// Int appends n in decimal.
func (m *Markup) Int(n int64) { m.b = strconv.AppendInt(m.b, n, 10) }

// Text appends s escaped for HTML text or a quoted attribute value, as
// html/template escapes a string there: the five HTML specials and '+'
// as entities, U+0000 as U+FFFD, everything else (invalid UTF-8 too)
// as it is.
func (m *Markup) Text(s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		// Every byte escaped is ASCII, which is never part of a
		// multi-byte UTF-8 sequence: a byte loop escapes what
		// html/template's rune loop does.
		repl := textEscapes[s[i]]
		if repl == "" {
			continue
		}
		m.b = append(m.b, s[written:i]...)
		m.b = append(m.b, repl...)
		written = i + 1
	}
	m.b = append(m.b, s[written:]...)
}

// textEscapes is html/template's htmlReplacementTable, by byte.
var textEscapes = [256]string{
	0:    "\uFFFD",
	'"':  "&#34;",
	'&':  "&amp;",
	'\'': "&#39;",
	'+':  "&#43;",
	'<':  "&lt;",
	'>':  "&gt;",
}

// URL appends s as the whole value of a quoted URL attribute (href="…"),
// as html/template writes a string there: a URL whose scheme is not
// http, https or mailto becomes "#ZgotmplZ"; bytes a URL may not hold
// are percent-encoded (a valid escape is kept); then '&' and '+' are
// escaped for the attribute.
func (m *Markup) URL(s string) {
	if !safeURL(s) {
		s = "#ZgotmplZ"
	}
	m.urlRun(s)
}

// URLJoin appends what URL(a + b + c) appends, without making the string
// (a day page writes two links for every message): a decides the scheme
// when it holds ':' or '/', and the runs are escaped one after another
// when no escape ("%" and two hex digits) can span two of them. Otherwise
// the string is made.
func (m *Markup) URLJoin(a, b, c string) {
	if !strings.ContainsAny(a, ":/") || pctTail(a) || c != "" && pctTail(b) {
		m.URL(a + b + c)
		return
	}
	if !safeURL(a) {
		m.URL("#ZgotmplZ")
		return
	}
	m.urlRun(a)
	m.urlRun(b)
	m.urlRun(c)
}

// pctTail reports whether one of s's last two bytes is '%', whose escape
// would continue into what follows s.
func pctTail(s string) bool {
	return strings.IndexByte(s[max(len(s)-2, 0):], '%') >= 0
}

// urlRun is URL's escaping of s, its scheme already judged. Runs of bytes
// kept as they are (all of most URLs) are appended at once: a day page
// writes a few URLs for every message.
func (m *Markup) urlRun(s string) {
	written := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if urlPlain[c] {
			continue
		}
		m.b = append(m.b, s[written:i]...)
		written = i + 1
		switch {
		case c == '&':
			m.b = append(m.b, "&amp;"...)
		case c == '+':
			m.b = append(m.b, "&#43;"...)
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			m.b = append(m.b, c)
		default:
			m.b = append(m.b, '%', lowerHex[c>>4], lowerHex[c&15])
		}
	}
	m.b = append(m.b, s[written:]...)
}

// TextTime appends t formatted by layout, escaped as Text escapes it,
// without making the string (a day page writes two times for every
// message; a layout of digits and punctuation needs no escape).
func (m *Markup) TextTime(t time.Time, layout string) {
	start := len(m.b)
	m.b = t.AppendFormat(m.b, layout)
	for i := start; i < len(m.b); i++ {
		if textEscapes[m.b[i]] != "" {
			s := string(m.b[start:])
			m.b = m.b[:start]
			m.Text(s)
			return
		}
	}
}

// urlPlain marks the bytes URL writes as they are: those urlKept keeps
// but '&' and '+', which the attribute escapes.
var urlPlain = func() (t [256]bool) {
	for c := range 256 {
		t[c] = urlKept(byte(c)) && c != '&' && c != '+'
	}
	return t
}()

const lowerHex = "0123456789abcdef"

// safeURL is html/template's isSafeURL: a relative URL, or one whose
// scheme is http, https or mailto.
func safeURL(s string) bool {
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.Contains(scheme, "/") {
		return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "mailto")
	}
	return true
}

// urlKept says whether html/template's URL normalizer keeps c as it is:
// the reserved and unreserved characters of RFC 3986 but the quote and
// parentheses.
func urlKept(c byte) bool {
	switch c {
	case '!', '#', '$', '&', '*', '+', ',', '/', ':', ';', '=', '?', '@', '[', ']', '-', '.', '_', '~':
		return true
	}
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// Len is the length of what was built.
func (m *Markup) Len() int { return len(m.b) }

// Bytes is what was built, without a copy: the caller must not modify it.
func (m *Markup) Bytes() []byte { return m.b }

// Result is what was built.
func (m *Markup) Result() template.HTML { return template.HTML(m.b) }
