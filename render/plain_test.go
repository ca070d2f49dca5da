package render

import (
	"html"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

func link(u string) string { return `<a href="` + u + `" rel="nofollow ugc noopener">` + u + `</a>` }

var plainTests = []struct {
	name, in, want string
}{
	{"empty", "", ""},
	{"plain", "hello", "hello"},
	{"escaping", `a < b && c > "d" 'e'`, `a &lt; b &amp;&amp; c &gt; &#34;d&#34; &#39;e&#39;`},
	{"html is text", `<script>alert(1)</script>`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
	{"url", "see https://example.org/a", "see " + link("https://example.org/a")},
	{"http url", "http://example.org", link("http://example.org")},
	{"uppercase scheme", "HTTPS://EXAMPLE.ORG/", link("HTTPS://EXAMPLE.ORG/")},
	{"trailing full stop", "go to https://example.org.", "go to " + link("https://example.org") + "."},
	{"trailing punctuation run", "https://example.org/x?!;:,.", link("https://example.org/x") + "?!;:,."},
	{"query kept", "https://example.org/?a=1&b=2.", link("https://example.org/?a=1&amp;b=2") + "."},
	{"in parentheses", "(https://example.org/x)", "(" + link("https://example.org/x") + ")"},
	{"balanced parentheses kept", "https://en.wikipedia.org/wiki/Go_(programming_language)",
		link("https://en.wikipedia.org/wiki/Go_(programming_language)")},
	{"balanced inside parentheses", "(see https://en.wikipedia.org/wiki/Go_(lang)).",
		"(see " + link("https://en.wikipedia.org/wiki/Go_(lang)") + ")."},
	{"angle brackets end url", "<https://example.org/>", "&lt;" + link("https://example.org/") + "&gt;"},
	{"quote ends url", `"https://example.org/"`, `&#34;` + link("https://example.org/") + `&#34;`},
	{"ampersand in url", "https://example.org/?q=a&lt=1", link("https://example.org/?q=a&amp;lt=1")},
	{"javascript not linked", "javascript:alert(1)", "javascript:alert(1)"},
	{"javascript after url text", "https://javascript:alert(1)", "https://javascript:alert(1)"},
	{"mid-word not linked", "xhttps://example.org", "xhttps://example.org"},
	{"scheme only", "http:// and https://.", "http:// and https://."},
	{"two urls", "https://a.example https://b.example", link("https://a.example") + " " + link("https://b.example")},
	{"newlines", "one\ntwo\r\nthree\rfour\n", "one<br>two<br>three<br>four<br>"},
	{"url before newline", "https://example.org\nnext", link("https://example.org") + "<br>next"},
	{"ftp not linked", "ftp://example.org/file", "ftp://example.org/file"},
	{"unbalanced closers trimmed", "https://example.org/a)]}))", link("https://example.org/a") + ")]}))"},
	{"balanced closers kept", "https://example.org/(a)[b]{c}.", link("https://example.org/(a)[b]{c}") + "."},
	{"after underscore not linked", "_https://example.org", "_https://example.org"},
	{"after non-ASCII letter linked", "éhttps://example.org", "é" + link("https://example.org")},
	{"mixed-case scheme", "hTtPs://example.org", link("hTtPs://example.org")},
	{"scheme then url", "http:// https://example.org", "http:// " + link("https://example.org")},
}

func TestPlain(t *testing.T) {
	r := newTestRenderer()
	for _, tc := range plainTests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(r.Plain(tc.in))
			if got != tc.want {
				t.Errorf("Plain(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if err := checkSafeHTML(got); err != nil {
				t.Errorf("Plain(%q) = %q: %v", tc.in, got, err)
			}
		})
	}
}

func TestStripReplyFallbackText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"reply", "> <@bob:example.org> secret\n> more secret\n\nmy answer", "my answer"},
		{"emote reply", "> * <@bob:example.org> waves\n\nhi", "hi"},
		{"quoted empty line without space", "> <@bob:example.org> a\n>\n> b\n\nanswer\nsecond line", "answer\nsecond line"},
		{"crlf", "> <@bob:example.org> secret\r\n\r\nanswer", "answer"},
		{"reply indentation kept", "> <@bob:example.org> q\n\n    code", "    code"},
		{"quote, not a reply", "> just a quote\n\ntext", "> just a quote\n\ntext"},
		{"single line", "> <@bob:example.org> only", "> <@bob:example.org> only"},
		{"plain", "hello", "hello"},
		{"fallback only", "> <@bob:example.org> secret\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.TrimRight(event.StripReplyFallbackText(tc.in), " \t\r\n"); got != tc.want {
				t.Errorf("stripReplyFallbackText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestPlainLinkCap: past MaxLinks, URLs stay text, and the text is intact.
func TestPlainLinkCap(t *testing.T) {
	in := strings.Repeat("http://a.example ", MaxLinks+50)
	out := string(newTestRenderer().Plain(in))
	if n := strings.Count(out, "<a "); n != MaxLinks {
		t.Errorf("Plain of %d URLs made %d links, want %d", MaxLinks+50, n, MaxLinks)
	}
	if rest := plainLinkRe.ReplaceAllString(out, "http://a.example"); rest != in {
		t.Errorf("Plain lost text: %q", rest[:min(len(rest), 200)])
	}
}

// escapedLinesByLines is writeEscapedLines as it was: the lines split
// first, each escaped by html.EscapeString.
func escapedLinesByLines(s string) string {
	var b strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			b.WriteString(html.EscapeString(s))
			break
		}
		b.WriteString(html.EscapeString(s[:i]))
		b.WriteString("<br>")
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return b.String()
}

// TestEscapedLinesAsEscapeString: writeEscapedLines writes what splitting
// the lines and escaping each with html.EscapeString writes, with every
// byte value at the start, middle and end of a string, beside a CR, an LF
// or a multi-byte character, and for the plain-text seeds.
func TestEscapedLinesAsEscapeString(t *testing.T) {
	check := func(s string) {
		t.Helper()
		var b strings.Builder
		writeEscapedLines(&b, s)
		if got, want := b.String(), escapedLinesByLines(s); got != want {
			t.Errorf("writeEscapedLines(%q) = %q, want %q", s, got, want)
		}
	}
	for _, tc := range plainTests {
		check(tc.in)
	}
	for _, s := range []string{"", "\r", "\n", "\r\n", "\n\r", "\r\r\n\n", "a\r", "\rb", "é\r\n<é>", "\xff\r\xfe&"} {
		check(s)
	}
	for c := range 256 {
		x := string([]byte{byte(c)})
		for _, s := range []string{x, "ab" + x + "cd", x + "\r", "\r" + x, x + "\n", "é" + x + "é", "<" + x + ">"} {
			check(s)
		}
	}
}

func FuzzEscapedLinesAsEscapeString(f *testing.F) {
	for _, tc := range plainTests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		writeEscapedLines(&b, s)
		if got, want := b.String(), escapedLinesByLines(s); got != want {
			t.Errorf("writeEscapedLines(%q) = %q, want %q", s, got, want)
		}
	})
}
