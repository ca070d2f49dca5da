package render

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// testMediaURL is what the archive's web package is expected to pass.
func testMediaURL(server, mediaID string) string { return "/_media/" + server + "/" + mediaID }

func newTestRenderer() *Renderer { return New(Options{MediaURL: testMediaURL}) }

// hostileHTML is shared with FuzzHTML as its seed corpus.
var hostileHTML = []struct {
	name, in, want string
}{
	{"script", `a<script>alert(1)</script>b`, `ab`},
	{"script uppercase", `<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok`, `ok`},
	{"onerror on img", `<img src="mxc://example.org/abc" onerror="alert(1)">`,
		`<img src="/_media/example.org/abc" loading="lazy"/>`},
	{"onclick on p", `<p onclick="alert(1)">hi</p>`, `<p>hi</p>`},
	{"javascript href", `<a href="javascript:alert(1)">x</a>`, `x`},
	{"mixed case javascript href", `<a href="JaVaScRiPt:alert(1)">x</a>`, `x`},
	{"entity-encoded javascript href", `<a href="&#106;&#97;vascript&#x3A;alert(1)">x</a>`, `x`},
	{"tab inside javascript href", `<a href="java&#x09;script:alert(1)">x</a>`, `x`},
	{"leading space javascript href", `<a href=" javascript:alert(1)">x</a>`, `x`},
	{"data href", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>`, `x`},
	{"data img", `<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">`, `[dot]`},
	{"iframe", `<iframe src="https://evil.example/">inside</iframe>after`, `after`},
	{"style element", `<style>body{display:none}</style>text`, `text`},
	{"style attribute", `<p style="position:fixed;top:0">x</p>`, `<p>x</p>`},
	{"style attribute on span with colour", `<span style="background:url(x)" data-mx-color="#00FF00">x</span>`,
		`<span style="color:#00ff00">x</span>`},
	{"form and input", `<form action="https://evil.example/"><input name="q"><button>go</button></form>`, `go`},
	{"object and embed", `<object data="x.swf">fallback</object><embed src="x.swf">`, ``},
	{"svg", `<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)">x</a></svg>`, `x`},
	{"math", `<math><mtext><img src=x onerror=alert(1)></mtext></math>`, ``},
	{"comment", `a<!-- <script>alert(1)</script> -->b`, `ab`},
	{"relative href", `<a href="/relative">x</a>`, `x`},
	{"protocol-relative href", `<a href="//evil.example/">x</a>`, `x`},
	{"fragment href", `<a href="#top">x</a>`, `x`},
	{"mxc href", `<a href="mxc://example.org/abc">x</a>`, `x`},
	{"ftp href", `<a href="ftp://example.org/file">x</a>`, `x`},
	{"https href", `<a href="https://example.org/a?b=c&amp;d=e">x</a>`,
		`<a href="https://example.org/a?b=c&amp;d=e" rel="nofollow ugc noopener">x</a>`},
	{"input rel and target replaced", `<a href="https://example.org/" target="_blank" rel="opener">x</a>`,
		`<a href="https://example.org/" rel="nofollow ugc noopener">x</a>`},
	{"legacy name on a", `<a name="top">x</a>`, `x`},
	{"mailto", `<a href="mailto:a@example.org">mail</a>`,
		`<a href="mailto:a@example.org" rel="nofollow ugc noopener">mail</a>`},
	{"matrix scheme", `<a href="matrix:r/room:example.org">room</a>`,
		`<a href="matrix:r/room:example.org" rel="nofollow ugc noopener">room</a>`},
	{"matrix.to pill", `<a href="https://matrix.to/#/@alice:example.org">Alice</a>: hi`,
		`<a href="https://matrix.to/#/@alice:example.org" rel="nofollow ugc noopener">Alice</a>: hi`},
	{"matrix.to event link", `<a href="https://matrix.to/#/!room:example.org/$event?via=example.org">msg</a>`,
		`<a href="https://matrix.to/#/!room:example.org/$event?via=example.org" rel="nofollow ugc noopener">msg</a>`},
	{"remote img dropped", `<img src="https://evil.example/track.png" alt="tracker">`, `[tracker]`},
	{"remote img without alt", `a<img src="https://evil.example/track.png">b`, `ab`},
	{"mxc img", `<img src="mxc://example.org/AbC_1-2" alt="cat" title="A cat" width="32" height="abc">`,
		`<img src="/_media/example.org/AbC_1-2" alt="cat" title="A cat" width="32" loading="lazy"/>`},
	{"mxc img traversal", `<img src="mxc://example.org/../etc" alt="x">`, `[x]`},
	{"mxc img bad server port", `<img src="mxc://example.org:123456/abc" alt="x">`, `[x]`},
	{"mxc img alt escaped", `<img src="https://x/" alt="<b>&amp;">`, `[&lt;b&gt;&amp;]`},
	{"mx-reply", `<mx-reply><blockquote><a href="https://matrix.to/#/!r:example.org/$e">In reply to</a> <a href="https://matrix.to/#/@bob:example.org">@bob:example.org</a><br>the secret quoted text</blockquote></mx-reply>my answer`,
		`my answer`},
	{"mx-reply not at start", `before<mx-reply><blockquote>secret</blockquote></mx-reply>after`, `beforeafter`},
	{"nested mx-reply", `<mx-reply><mx-reply>secret</mx-reply>more secret</mx-reply>shown`, `shown`},
	{"unclosed tags", `<b>bold <i>both`, `<b>bold <i>both</i></b>`},
	{"stray end tags", `</div></b>text</p>`, `text<p></p>`},
	{"colour valid", `<span data-mx-color="#AbCdEf" data-mx-bg-color="#000000">x</span>`,
		`<span style="color:#abcdef;background-color:#000000">x</span>`},
	{"colour invalid", `<span data-mx-color="red; background:url(x)" data-mx-bg-color="#12345">x</span>`,
		`<span>x</span>`},
	{"colour on div ignored", `<div data-mx-color="#ff0000">x</div>`, `<div>x</div>`},
	{"legacy font", `<font color="#FF0000">red</font>`, `<span style="color:#ff0000">red</span>`},
	{"legacy font data-mx wins", `<font color="#ff0000" data-mx-color="#00ff00" data-mx-bg-color="#0000ff">x</font>`,
		`<span style="color:#00ff00;background-color:#0000ff">x</span>`},
	{"legacy font bad colour", `<font color="red" face="Comic Sans">x</font>`, `x`},
	{"legacy strike", `<strike>old</strike>`, `<del>old</del>`},
	{"code language kept", `<pre><code class="language-go">fmt.Println()</code></pre>`,
		`<pre><code class="language-go">fmt.Println()</code></pre>`},
	{"code evil class dropped", `<code class="evil">x</code>`, `<code>x</code>`},
	{"code two classes dropped", `<code class="language-go evil">x</code>`, `<code>x</code>`},
	{"class elsewhere dropped", `<p class="spoiler">x</p>`, `<p>x</p>`},
	// A list item outside a list would close the page's own <li> around the
	// message (the HTML parser ends an open li at the next li start tag,
	// looking through div, p and inline elements), spilling the rest of the
	// message's markup out of it.
	{"stray li unwrapped", `<li>a</li><b><li>b</li></b><ul><li>c</li></ul>`, `a<b>b</b><ul><li>c</li></ul>`},
	{"li in a list kept", `<ol><li>a<ul><li>b</li></ul></li></ol>`, `<ol><li>a<ul><li>b</li></ul></li></ol>`},
	{"ol start kept", `<ol start="3"><li>c</li></ol>`, `<ol start="3"><li>c</li></ol>`},
	{"ol start invalid", `<ol start="3x"><li>c</li></ol>`, `<ol><li>c</li></ol>`},
	{"spoiler with reason", `<span data-mx-spoiler="plot">Snape</span>`,
		`<span class="spoiler" tabindex="0" title="Spoiler: plot">Snape</span>`},
	{"spoiler without reason", `<span data-mx-spoiler>x</span>`,
		`<span class="spoiler" tabindex="0" title="Spoiler">x</span>`},
	{"spoiler reason escaped", `<span data-mx-spoiler='"><script>alert(1)</script>'>x</span>`,
		`<span class="spoiler" tabindex="0" title="Spoiler: &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">x</span>`},
	{"spoiler on div ignored", `<div data-mx-spoiler="x">x</div>`, `<div>x</div>`},
	{"maths", `<span data-mx-maths="x^2">x²</span>`, `<span data-mx-maths="x^2">x²</span>`},
	{"id and name dropped", `<p id="x" name="y">x</p>`, `<p>x</p>`},
	{"details", `<details><summary>more</summary>hidden</details>`, `<details><summary>more</summary>hidden</details>`},
	{"text escaped", `1 &lt; 2 &amp; "3" > 'x'`, `1 &lt; 2 &amp; &#34;3&#34; &gt; &#39;x&#39;`},
	{"empty", ``, ``},
}

func TestHTML(t *testing.T) {
	r := newTestRenderer()
	for _, tc := range hostileHTML {
		t.Run(tc.name, func(t *testing.T) {
			got := string(r.HTML(tc.in))
			if got != tc.want {
				t.Errorf("HTML(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if err := checkSafeHTML(got); err != nil {
				t.Errorf("HTML(%q) = %q: %v", tc.in, got, err)
			}
		})
	}
}

func TestHTMLWithoutMedia(t *testing.T) {
	r := New(Options{})
	tests := []struct{ name, in, want string }{
		{"alt", `<img src="mxc://example.org/abc" alt="a <cat>">`, `[a &lt;cat&gt;]`},
		{"no alt", `x <img src="mxc://example.org/abc"> y`, `x [image] y`},
		{"blank alt", `<img src="mxc://example.org/abc" alt="  ">`, `[image]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(r.HTML(tc.in)); got != tc.want {
				t.Errorf("HTML(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// Structural properties, checked with selectors where exact strings would
// be long or brittle.
func TestHTMLStructure(t *testing.T) {
	r := newTestRenderer()
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, doc *goquery.Document, out string)
	}{
		{
			name: "150 nested divs capped at MaxDepth",
			in:   strings.Repeat("<div>", 150) + "deep" + strings.Repeat("</div>", 150),
			check: func(t *testing.T, doc *goquery.Document, out string) {
				if d := maxDepth(doc.Find("body").Children()); d != MaxDepth {
					t.Errorf("depth = %d, want %d", d, MaxDepth)
				}
				if doc.Text() != "deep" {
					t.Errorf("text = %q, want %q", doc.Text(), "deep")
				}
			},
		},
		{
			name: "600 nested divs beyond the parser's limit keep the text",
			in:   strings.Repeat("<div><b>", 300) + "deeper<br>line",
			check: func(t *testing.T, doc *goquery.Document, out string) {
				if out != "deeper<br>line" {
					t.Errorf("out = %q", out)
				}
			},
		},
		{
			name: "spoiler with nested colour and link",
			in:   `<span data-mx-spoiler="ending"><span data-mx-color="#ff0000">red</span> <a href="https://example.org/">link</a></span>`,
			check: func(t *testing.T, doc *goquery.Document, out string) {
				s := doc.Find("span.spoiler[tabindex='0'][title='Spoiler: ending']")
				if s.Length() != 1 {
					t.Fatalf("no spoiler span in %q", out)
				}
				if s.Find(`span[style="color:#ff0000"]`).Length() != 1 {
					t.Errorf("colour lost inside spoiler: %q", out)
				}
				if s.Find(`a[rel="nofollow ugc noopener"]`).Length() != 1 {
					t.Errorf("link lost inside spoiler: %q", out)
				}
			},
		},
		{
			name: "every link gets rel",
			in:   `<a href="https://a.example/">a</a><b><a href="http://b.example/" rel="me">b</a></b><a href="mailto:c@example.org">c</a>`,
			check: func(t *testing.T, doc *goquery.Document, out string) {
				links := doc.Find("a")
				if links.Length() != 3 {
					t.Fatalf("got %d links in %q", links.Length(), out)
				}
				links.Each(func(_ int, s *goquery.Selection) {
					if rel, _ := s.Attr("rel"); rel != linkRel {
						t.Errorf("rel = %q in %q", rel, out)
					}
				})
			},
		},
		{
			name: "table",
			in:   `<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tr><td onclick="x">d</td></tr></table>`,
			check: func(t *testing.T, doc *goquery.Document, out string) {
				if doc.Find("table > caption").Text() != "c" || doc.Find("table thead th").Text() != "h" ||
					doc.Find("table tbody td").Text() != "d" {
					t.Errorf("table mangled: %q", out)
				}
				if _, ok := doc.Find("td").Attr("onclick"); ok {
					t.Errorf("onclick kept: %q", out)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := string(r.HTML(tc.in))
			if err := checkSafeHTML(out); err != nil {
				t.Errorf("%v in %q", err, out)
			}
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, doc, out)
		})
	}
}

func maxDepth(s *goquery.Selection) int {
	max := 0
	s.Each(func(_ int, c *goquery.Selection) {
		if d := 1 + maxDepth(c.Children()); d > max {
			max = d
		}
	})
	return max
}

// TestHTMLGolden renders testdata/sanitize/*.html, realistic messages as
// clients send them, and compares with the .golden files next to them.
// Run with -update to rewrite those.
func TestHTMLGolden(t *testing.T) {
	r := newTestRenderer()
	inputs, err := filepath.Glob(filepath.Join("testdata", "sanitize", "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/sanitize/*.html")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".html")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := string(r.HTML(string(src))) + "\n"
			if err := checkSafeHTML(got); err != nil {
				t.Error(err)
			}
			golden := strings.TrimSuffix(in, ".html") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\n got %s\nwant %s", in, got, want)
			}
		})
	}
}

// The Renderer is shared by every request; -race checks it stays read-only.
func TestConcurrentUse(t *testing.T) {
	r := newTestRenderer()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tc := range hostileHTML {
				if got := string(r.HTML(tc.in)); got != tc.want {
					t.Errorf("%s: got %q", tc.name, got)
				}
				_ = r.Plain(tc.in)
			}
		}()
	}
	wg.Wait()
}
