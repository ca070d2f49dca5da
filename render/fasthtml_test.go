package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fastTaken are inputs fastHTML must take: what Markdown clients send.
// The test fails if it refuses one, so that the fast path stays the one
// common messages go through.
var fastTaken = []string{
	`plain text, no markup`,
	`<p>one</p><p>two &amp; three &lt;four&gt; &quot;five&quot; it&#39;s</p>`,
	`<h2>it&#39;s on the website</h2><p>http://releases.ubuntu.com/warty/MD5SUMS</p><ul><li>aitrus: great, thanks</li><li>kevii, ???</li></ul><pre><code>can anyone recommend
yohannes, why not WinRAR?
</code></pre><p>See <a href="https://wiki.example.org/notes/0/2782">the notes</a>.</p>`,
	"<h1>Release notes</h1>\n<p>This is <strong>bold</strong>, <em>italic</em>, <del>gone</del>, <u>under</u> and <code>inline()</code>.</p>\n<blockquote>\n<p>A quote with a <a href=\"https://example.org/path?x=1&amp;y=2\">link</a>.</p>\n</blockquote>\n<ol start=\"7\">\n<li>seven</li>\n<li>eight<ul><li>nested</li></ul></li>\n</ol>\n<pre><code class=\"language-rust\">fn main() {\n    println!(\"&lt;hi&gt;\");\n}\n</code></pre>\n<hr>\n<p>H<sub>2</sub>O and E=mc<sup>2</sup></p>",
	`line one<br>line two<br/>line three<br />end`,
	`<b>b</b><i>i</i><s>s</s> <a href="mailto:someone@example.org">mail</a> <a href="matrix:r/room:example.org">room</a>`,
	`<b><b><b><b>four deep</b></b></b></b>`,
	`<ul>
<li>
<p>loose item</p>
</li>
</ul>`,
	`text with &nbsp; &copy; &#x1F600; &#128512; and a bare &amp ampersand`,
	`<pre>no newline first
second</pre>`,
	`<pre><code>
newline inside code</code></pre>`,
	`ünïcödé ✓ <em>ε</em>`,
	`<mx-reply><blockquote><a href="https://matrix.to/#/!room:example.org/$ev?via=example.org">In reply to</a> <a href="https://matrix.to/#/@bob:example.org">@bob:example.org</a><br>how do I sanitize?</blockquote></mx-reply><a href="https://matrix.to/#/@bob:example.org">Bob</a>: use <code>bluemonday</code>`,
	`before<mx-reply></mx-reply>after`,
}

// fastRefused are inputs fastHTML must leave to slowHTML.
var fastRefused = []string{
	`<mx-reply><blockquote>quoted<mx-reply>nested</mx-reply></blockquote></mx-reply>reply`,
	`<mx-reply>unclosed`,
	`<p><mx-reply>in a paragraph</mx-reply></p>`,
	`<mx-reply><script>x</script></mx-reply>reply`,
	`<mx-reply><a href="https://a.example/" title="</mx-reply>">x</a></mx-reply>reply`,
	`<mx-reply class="x">attribute</mx-reply>`,
	`<P>upper case</P>`,
	`<p>unclosed`,
	`<p><p>nested</p></p>`,
	`<p><ul><li>list in p</li></ul></p>`,
	`<li>stray</li>`,
	`<ul>text<li>x</li></ul>`,
	`<a href="https://a.example/"><a href="https://b.example/">inner</a></a>`,
	`<a href="javascript:alert(1)">x</a>`,
	`<a href="HTTPS://example.org/">upper scheme</a>`,
	`<a href="https://example.org/ä">non-ASCII</a>`,
	`<a href="https://example.org/?a&b">bare ampersand</a>`,
	`<a href='https://example.org/'>single quotes</a>`,
	`<a href="https://example.org/" title="t">two attributes</a>`,
	`<a>no href</a>`,
	`<p class="x">attribute</p>`,
	`<code class="evil">x</code>`,
	`<ol start="x">`,
	"<pre>\nleading newline</pre>",
	"<pre>&#10;leading newline</pre>",
	"carriage\rreturn",
	"nul\x00byte",
	"invalid \xff UTF-8",
	`a < b`,
	`<!-- comment -->`,
	`<p/>`,
	`<b><i>misnested</b></i>`,
	`<span data-mx-spoiler="">spoiler</span>`,
	`<table><tr><td>cell</td></tr></table>`,
	`<script>alert(1)</script>`,
	`&#13;`,
}

// fastInputs is every input the differential test checks: the lists
// above, the sanitizer's hostile cases and samples, and the browser
// test's hostile payloads.
func fastInputs(t testing.TB) []string {
	in := append(append([]string{}, fastTaken...), fastRefused...)
	for _, tc := range hostileHTML {
		in = append(in, tc.in)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "sanitize", "*.html"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, string(b))
	}
	for _, p := range xssPayloads(t) {
		in = append(in, strings.ReplaceAll(p, "{N}", "1"))
	}
	return in
}

func TestFastHTMLAsSlow(t *testing.T) {
	r := newTestRenderer()
	for _, in := range fastInputs(t) {
		fast, ok := r.fastHTML(in)
		if !ok {
			continue
		}
		if slow := string(r.slowHTML(in)); fast != slow {
			t.Errorf("fastHTML(%q)\n = %q\nslowHTML gives\n   %q", in, fast, slow)
		}
	}
	for _, in := range fastTaken {
		if _, ok := r.fastHTML(in); !ok {
			t.Errorf("fastHTML refused %q, a message of the common shape", in)
		}
	}
	for _, in := range fastRefused {
		if out, ok := r.fastHTML(in); ok {
			t.Errorf("fastHTML took %q (gave %q); want it left to slowHTML", in, out)
		}
	}
}

// FuzzFastHTMLAsSlow holds fastHTML to slowHTML's bytes wherever it
// takes an input; FuzzHTML holds those to what is safe.
func FuzzFastHTMLAsSlow(f *testing.F) {
	for _, in := range fastInputs(f) {
		f.Add(in)
	}
	r := newTestRenderer()
	f.Fuzz(func(t *testing.T, in string) {
		fast, ok := r.fastHTML(in)
		if !ok {
			return
		}
		if slow := string(r.slowHTML(in)); fast != slow {
			t.Fatalf("fastHTML(%q)\n = %q\nslowHTML gives\n   %q", in, fast, slow)
		}
	})
}

// BenchmarkMarkdownHTML renders a message of the bench's Markdown shape
// (heading, paragraph, list, code block, link) and an Element reply
// (its fallback, pills, inline code), through HTML and through slowHTML
// alone.
func BenchmarkMarkdownHTML(b *testing.B) {
	r := newTestRenderer()
	for _, bc := range []struct{ name, in string }{
		{"markdown", fastTaken[2] + fastTaken[3]},
		{"reply", fastTaken[len(fastTaken)-2]},
	} {
		if _, ok := r.fastHTML(bc.in); !ok {
			b.Fatalf("%s: fastHTML refused it", bc.name)
		}
		b.Run(bc.name+"/HTML", func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				_ = r.HTML(bc.in)
			}
		})
		b.Run(bc.name+"/slowHTML", func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			for b.Loop() {
				_ = r.slowHTML(bc.in)
			}
		})
	}
}
