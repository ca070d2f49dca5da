package render

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

// A typical formatted reply from Element: fallback, pill, emphasis, link,
// inline code and a short code block.
var benchMessage = event.Message{
	MsgType: event.MsgText,
	Body:    replyBody,
	Format:  event.FormatHTML,
	FormattedBody: `<mx-reply><blockquote><a href="https://matrix.to/#/!room:example.org/$ev?via=example.org">In reply to</a> ` +
		`<a href="https://matrix.to/#/@bob:example.org">@bob:example.org</a><br>how do I sanitize?</blockquote></mx-reply>` +
		`<a href="https://matrix.to/#/@bob:example.org">Bob</a>: use <strong>bluemonday</strong> with an <em>allowlist</em>, ` +
		`see <a href="https://github.com/microcosm-cc/bluemonday">the README</a> and <code>SkipElementsContent</code>:` +
		`<pre><code class="language-go">p := bluemonday.NewPolicy()
p.SkipElementsContent("mx-reply")
</code></pre><p>Colours: <span data-mx-color="#ff0000">red</span>, spoiler: <span data-mx-spoiler="">it works</span></p>`,
}

func BenchmarkMessageHTML(b *testing.B) {
	r := newTestRenderer()
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Message(benchMessage)
	}
}

func BenchmarkMessagePlain(b *testing.B) {
	r := newTestRenderer()
	m := event.Message{MsgType: event.MsgText, Body: "see https://example.org/a_(b) and (https://x.example/y).\nsecond line & more <text>"}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Message(m)
	}
}

func BenchmarkText(b *testing.B) {
	r := newTestRenderer()
	m := benchMessage
	m.Body = ""
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Text(m)
	}
}

// BenchmarkHostile renders each hostile input of cost_test.go at about 32
// KB as a formatted message and as text, including the parts whose cost
// the work counter takes on trust (bluemonday, the HTML parser, url.Parse).
// Compare its ns/op with BenchmarkHostileSmall (about 4 KB): linear is ×8.
func BenchmarkHostile(b *testing.B) { benchHostile(b, 32768) }

func BenchmarkHostileSmall(b *testing.B) { benchHostile(b, 4096) }

func benchHostile(b *testing.B, size int) {
	r := newTestRenderer()
	for _, in := range hostileInputs {
		s := in.prefix + strings.Repeat(in.unit, max(1, size/len(in.unit)))
		m := event.Message{MsgType: event.MsgText, Body: s, Format: event.FormatHTML, FormattedBody: s}
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				_ = r.Message(m)
				_ = r.Text(m)
				_ = r.Plain(s)
			}
		})
	}
}
