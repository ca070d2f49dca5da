package render

import (
	"bytes"
	"encoding/json"
	"html/template"
	"os"
	"strings"
	"testing"
	"time"
)

// markupContexts are the places Markup writes values, each with the
// template that writes a value there and the method that must write the
// same bytes.
var markupContexts = []struct {
	name, tmpl, before, after string
	write                     func(m *Markup, s string)
}{
	{"text", `<p>{{.}}</p>`, `<p>`, `</p>`, (*Markup).Text},
	{"attribute", `<p title="{{.}}">`, `<p title="`, `">`, (*Markup).Text},
	{"class", `<p class="x {{.}}">`, `<p class="x `, `">`, (*Markup).Text},
	{"data attribute", `<p data-ts="{{.}}">`, `<p data-ts="`, `">`, (*Markup).Text},
	{"href", `<a href="{{.}}">`, `<a href="`, `">`, (*Markup).URL},
}

// asTemplate is what html/template writes for s in context c.
func asTemplate(t testing.TB, tmpl *template.Template, before, after, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := tmpl.Execute(&b, s); err != nil {
		t.Fatal(err)
	}
	out, ok := strings.CutPrefix(b.String(), before)
	if !ok {
		t.Fatalf("template wrote %q", b.String())
	}
	out, ok = strings.CutSuffix(out, after)
	if !ok {
		t.Fatalf("template wrote %q", b.String())
	}
	return out
}

// markupSeeds are strings that exercise every escape: each byte alone,
// invalid UTF-8, the noncharacters html/template treats specially in
// other contexts, URLs of every kind, and the browser tests' XSS payloads.
func markupSeeds(t testing.TB) []string {
	seeds := []string{"", "plain", "a+b", "Tom & Jerry's <b>\"bold\"</b>", "nul\x00byte", "\xff\xfe invalid \xc3",
		"\uFFFD\uFDD0\uFFFE\uFFFF", "é ü 🎉 ↳", "/room/!x:example.org/event/$ab/cd+ef", "https://matrix.to/#/%21x:example.org/$e?via=example.org&via=b",
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:x", "data:text/html,<x>", "mailto:a@b.c", "HTTP://X", "ftp://x", "/a:b", "a:b/c",
		"%", "%2", "%zz", "%2F%2f", "100%", "a b\tc\nd", "(x)'y'", "?q=1&r=2#frag", "//evil.example/x", "\\\\host", "#ZgotmplZ"}
	for c := range 256 {
		seeds = append(seeds, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	return append(seeds, xssPayloads(t)...)
}

// xssPayloads are the browser tests' hostile payloads
// (internal/browsertest/testdata/xss), each with its {N} marker.
func xssPayloads(t testing.TB) []string {
	raw, err := os.ReadFile("../internal/browsertest/testdata/xss/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	var payloads []struct{ HTML string }
	if err := json.Unmarshal(raw, &payloads); err != nil {
		t.Fatal(err)
	}
	html := make([]string, len(payloads))
	for i, p := range payloads {
		html[i] = p.HTML
	}
	return html
}

// TestMarkupEscapesAsTemplates: Markup writes every value as html/template
// would in the same place, so pages built with it keep their bytes and
// their safety.
func TestMarkupEscapesAsTemplates(t *testing.T) {
	for _, c := range markupContexts {
		t.Run(c.name, func(t *testing.T) {
			tmpl := template.Must(template.New("").Parse(c.tmpl))
			for _, s := range markupSeeds(t) {
				var m Markup
				c.write(&m, s)
				if got, want := string(m.Result()), asTemplate(t, tmpl, c.before, c.after, s); got != want {
					t.Errorf("%q: Markup wrote %q, html/template %q", s, got, want)
				}
			}
		})
	}
}

func FuzzMarkupEscapesAsTemplates(f *testing.F) {
	for _, s := range markupSeeds(f) {
		f.Add(s)
	}
	tmpls := make([]*template.Template, len(markupContexts))
	for i, c := range markupContexts {
		tmpls[i] = template.Must(template.New("").Parse(c.tmpl))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, c := range markupContexts {
			var m Markup
			c.write(&m, s)
			if got, want := string(m.Result()), asTemplate(t, tmpls[i], c.before, c.after, s); got != want {
				t.Errorf("%s, %q: Markup wrote %q, html/template %q", c.name, s, got, want)
			}
		}
	})
}

// TestMarkupBuilds: literal markup, safe HTML, numbers and escaped values
// are appended in order, and Grow keeps what was built.
func TestMarkupBuilds(t *testing.T) {
	var m Markup
	m.Lit(`<li id="`)
	m.Text(`a"b`)
	m.Lit(`">`)
	m.Grow(1 << 10)
	m.HTML(template.HTML("<b>x</b>"))
	m.Int(-42)
	m.Lit(`</li>`)
	if got, want := string(m.Result()), `<li id="a&#34;b"><b>x</b>-42</li>`; got != want || m.Len() != len(want) {
		t.Errorf("built %q (len %d), want %q", got, m.Len(), want)
	}
}

// BenchmarkMarkupURL writes the URLs a day page writes for each message:
// its permalink, its anchor and its matrix.to link.
func BenchmarkMarkupURL(b *testing.B) {
	urls := []string{
		"/room/!ubuntu-2:bench.example/event/$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		"#$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		"https://matrix.to/#/%21ubuntu-2%3Abench.example/%24abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG?via=bench.example&via=matrix.org",
	}
	var m Markup
	for range b.N {
		m.b = m.b[:0]
		for _, u := range urls {
			m.URL(u)
		}
	}
}

// TestURLJoinAsURL: URLJoin writes what URL writes for the three strings
// joined, with every seed cut in three at every pair of places (up to 48
// bytes; longer ones at a few), so a scheme, a '%' escape or a multi-byte
// character may fall across any cut.
func TestURLJoinAsURL(t *testing.T) {
	n := 0
	check := func(a, b, c string) {
		t.Helper()
		var got, want Markup
		got.URLJoin(a, b, c)
		want.URL(a + b + c)
		if string(got.Result()) != string(want.Result()) {
			t.Errorf("URLJoin(%q, %q, %q) wrote %q, URL %q", a, b, c, got.Result(), want.Result())
		}
		n++
	}
	for _, s := range markupSeeds(t) {
		s += "/%41%" // an escape and a '%' at the end, after a '/' for the cuts after it
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				if len(s) > 48 && j != i && j != len(s) && (i+j)%7 != 0 {
					continue
				}
				check(s[:i], s[i:j], s[j:])
			}
		}
	}
	if n < 100000 {
		t.Fatalf("%d cuts checked", n)
	}
}

// TestTextTimeAsText: TextTime writes what Text writes for the time
// formatted, for times from before the year 1 to past 9999 and layouts
// with and without characters to escape.
func TestTextTimeAsText(t *testing.T) {
	times := []int64{0, -1767225601000, 1266098220500, -62135596800001, 253402300800000, 1 << 50, -(1 << 50)}
	for _, ms := range times {
		for _, layout := range []string{time.RFC3339, "15:04", "2006-01-02 15:04:05 UTC", "15:04 <&> \"'+", ""} {
			tm := time.UnixMilli(ms).UTC()
			var got, want Markup
			got.TextTime(tm, layout)
			want.Text(tm.Format(layout))
			if string(got.Result()) != string(want.Result()) {
				t.Errorf("TextTime(%v, %q) wrote %q, Text %q", tm, layout, got.Result(), want.Result())
			}
		}
	}
}
