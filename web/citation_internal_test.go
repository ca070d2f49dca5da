package web

import (
	"strings"
	"testing"
	"time"
)

// citeOf is the citations of a message by Ann in "Room" quoting quote.
func citeOf(author, room, quote string) citeView {
	return citations(citeFacts{
		URL: "https://archive.example/room/!x:example.org/event/$e", Author: author, AuthorID: "@a:example.org",
		Room: room, Site: "mxarchive", When: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), AccessDate: "2026-01-02", Quote: quote,
	})
}

// TestMarkdownCitationQuoteIsNoBlock: whatever a message starts with, the
// Markdown citation's first line is a block quote of that text alone, not
// a rule, list, heading, nested quote, HTML block, fence or code block
// that a renderer would show instead of the words; inline markup and
// entities stay text too; the URL is left as it is.
func TestMarkdownCitationQuoteIsNoBlock(t *testing.T) {
	for quote, want := range map[string]string{
		"---":                              `\---`,
		"- - -":                            `\- - -`,
		"-1 is fine, ca-east 1.5":          `\-1 is fine, ca-east 1.5`,
		"2.5 and 2. more":                  `2\.5 and 2. more`,
		"***":                              `\*\*\*`,
		"___":                              `\_\_\_`,
		"- a":                              `\- a`,
		"+ 1 from me":                      `\+ 1 from me`,
		"* a":                              `\* a`,
		"2. is the answer":                 `2\. is the answer`,
		"2) x":                             `2\) x`,
		"=":                                `\=`,
		"> nested":                         `\> nested`,
		"# heading":                        `\# heading`,
		"<div>x</div>":                     `\<div\>x\</div\>`,
		"```go":                            "\\`\\`\\`go",
		"~~~":                              `\~\~\~`,
		"     indented code":               `indented code`,
		"[x]: https://e.org":               `\[x\]: https://e.org`,
		"&amp; &#124;":                     `&amp;amp; &amp;\#124;`,
		"$x$ ^y^ ==z== @u :s:":             `\$x\$ \^y\^ \=\=z\=\= @u :s:`,
		"a, b; c? d/e 5% \"f\" 'g' h:i @j": `a, b; c? d/e 5% "f" 'g' h:i @j`,
		"ends with \\":                     `ends with \\`,
	} {
		md := citeOf("Ann", "Room", quote).Markdown
		first, rest, _ := strings.Cut(md, "\n")
		if first != "> "+want {
			t.Errorf("%q: quote line %q, want %q", quote, first, "> "+want)
		}
		if !strings.HasSuffix(rest, "(https://archive.example/room/!x:example.org/event/$e)") {
			t.Errorf("%q: the URL is not kept as it is: %q", quote, rest)
		}
	}
	// A name's line break cannot end the attribution's line.
	if md := citeOf("Ann\n# Eve", "Ro\r\nom", "hi").Markdown; !strings.HasSuffix(md, "— Ann \\# Eve, [Ro  om, 2026-01-01 12:00 UTC](https://archive.example/room/!x:example.org/event/$e)") {
		t.Errorf("markdown = %q", md)
	}
}

// TestWikiCitationEscapes: {{cite web}} keeps every value inside its
// parameter and shows it as written: entities literal, no behaviour
// switch or signature acting on the citing page.
func TestWikiCitationEscapes(t *testing.T) {
	for quote, want := range map[string]string{
		"&nbsp; &lt;br&gt;":         "&amp;nbsp; &amp;lt;br&amp;gt;",
		"__NOTOC__":                 "&#95;&#95;NOTOC&#95;&#95;",
		"___NOINDEX____":            "&#95;&#95;_NOINDEX&#95;&#95;&#95;&#95;",
		"a_b __":                    "a_b &#95;&#95;",
		"~~~~ |x={{y}} [[z]] ''w''": "&#126;&#126;&#126;&#126; &#124;x=&#123;&#123;y&#125;&#125; &#91;&#91;z&#93;&#93; &#39;&#39;w&#39;&#39;",
	} {
		wiki := citeOf("Ann", "Room", quote).MediaWiki
		if !strings.HasSuffix(wiki, " |quote="+want+"}}") {
			t.Errorf("%q: cite web = %q, want quote %q", quote, wiki, want)
		}
	}
	if wiki := citeOf("A&B __NOINDEX__", "R&D", "x").MediaWiki; !strings.Contains(wiki, "|title=Message by A&amp;B &#95;&#95;NOINDEX&#95;&#95; in R&amp;D |author=A&amp;B &#95;&#95;NOINDEX&#95;&#95; |") {
		t.Errorf("cite web = %q", wiki)
	}
}

// TestCitationsIsolateBidi: an author, room or quote holding right-to-left
// text or bidi controls is isolated in every citation, each override or
// embedding it opens closed inside the isolate, so that what follows it
// (user ID, date, URL) reads in its own order once pasted.
func TestCitationsIsolateBidi(t *testing.T) {
	const (
		lre, rle, pdf, lro, rlo = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
		lri, pdi, fsi           = "\u2066", "\u2069", "\u2068"
	)
	for in, want := range map[string]string{
		"Ann":                 "Ann",
		"Eve" + rlo:           fsi + "Eve" + rlo + pdf + pdi,
		rlo + "a" + lre + "b": fsi + rlo + "a" + lre + "b" + pdf + pdf + pdi,
		rle + "a" + pdf + "b": fsi + rle + "a" + pdf + "b" + pdi,
		pdf + "a" + pdf:       "a",
		lro + "x" + pdf + pdf: fsi + lro + "x" + pdf + pdi,
		"a" + pdi + rlo + "b": fsi + "a" + rlo + "b" + pdf + pdi,
		lri + "a":             fsi + "a" + pdi,
		"שלום":                fsi + "שלום" + pdi,
		"\u200fx":             fsi + "\u200fx" + pdi, // a mark opens nothing: kept
	} {
		if got := citeIsolated(in); got != want {
			t.Errorf("citeIsolated(%+q) = %+q, want %+q", in, got, want)
		}
	}
	c := citeOf("Eve"+rlo, "Room"+rlo, "said"+rlo)
	for name, s := range map[string]string{"plain": c.Plain, "markdown": c.Markdown, "cite web": c.MediaWiki} {
		for _, field := range []string{"Eve", "Room", "said"} {
			if !strings.Contains(s, fsi+field+rlo+pdf+pdi) {
				t.Errorf("%s: %q not isolated in %+q", name, field, s)
			}
		}
		if !strings.HasSuffix(s, "$e") && !strings.HasSuffix(s, "$e)") && !strings.Contains(s, "|url=https://archive.example/room/!x:example.org/event/$e |") {
			t.Errorf("%s: URL changed: %+q", name, s)
		}
	}
}
