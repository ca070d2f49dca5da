package render

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

// Design rule 10: rendering any input costs time proportional to its size.
// These tests count work (Renderer.work: bytes scanned and nodes visited by
// render's own loops) instead of timing it, so they are deterministic and
// fail on any super-linear loop however fast the machine is.

// costSlack is how much more than proportional the work on an input eight
// times larger may be: a constant per call makes it less than 8, a sort's
// log factor a little more; a quadratic loop makes it 64.
const costSlack = 1.5

// renderFuncs are the entry points whose cost is checked, each run on the
// same input.
var renderFuncs = map[string]func(r *Renderer, s string){
	"Plain":     func(r *Renderer, s string) { r.Plain(s) },
	"HTML":      func(r *Renderer, s string) { r.HTML(s) },
	"htmlText":  func(r *Renderer, s string) { r.htmlText(s) },
	"Highlight": func(r *Renderer, s string) { r.Highlight(s, []string{"a", "aa", "http", "li", "(", "x y"}) },
	"Message": func(r *Renderer, s string) {
		r.Message(event.Message{MsgType: event.MsgText, Body: s, Format: event.FormatHTML, FormattedBody: s})
	},
	"Text": func(r *Renderer, s string) {
		r.Text(event.Message{MsgType: event.MsgText, Body: "", Format: event.FormatHTML, FormattedBody: s})
	},
}

// countWork returns the work f does on s.
func countWork(f func(*Renderer, string), s string) int64 {
	r := newTestRenderer()
	r.work = new(atomic.Int64)
	f(r, s)
	return r.work.Load()
}

// checkLinear fails when the work on unit repeated 8k times is more than
// costSlack times eight times the work on it repeated k times.
func checkLinear(t *testing.T, name string, f func(*Renderer, string), prefix, unit string, k int) {
	t.Helper()
	small, large := prefix+strings.Repeat(unit, k), prefix+strings.Repeat(unit, 8*k)
	ws, wl := countWork(f, small), countWork(f, large)
	if float64(wl) > costSlack*8*float64(max(ws, 1)) {
		t.Errorf("%s: work %d on %d bytes, %d on %d bytes (×%.1f for ×8 input): not linear",
			name, ws, len(small), wl, len(large), float64(wl)/float64(max(ws, 1)))
	}
}

// hostileInputs are the shapes that made rendering super-linear, or could:
// each is a prefix and a unit repeated to grow the input.
var hostileInputs = []struct{ name, prefix, unit string }{
	{"closing parentheses after a link", "http://a.example/", ")"},
	{"closing brackets after a link", "https://a.example/", "]"},
	{"closing braces after a link", "https://a.example/", "}"},
	{"trailing dots after a link", "https://a.example/", "."},
	{"alternating punctuation after a link", "https://a.example/", ").]?"},
	{"opening parentheses in a link", "https://a.example/", "("},
	{"many links", "", "http://a "},
	{"many glued links", "", "http://a"},
	{"many schemes without hosts", "", "https:// "},
	{"long link", "https://a.example/", "abcdefgh"},
	{"ordered list items", "<ol>", "<li>a</li>"},
	{"nested ordered lists", "", "<ol><li>a"},
	{"nested bold", "", "<b>"},
	{"nested divs past the depth cap", "", "<div>x"},
	{"distinct font colours", "", `<font color="#00aa00">x`},
	{"table cells", "", "<table><tr><td>x"},
	{"plain words", "", "lorem ipsum "},
	{"reply fallback lines", "> <@a:b> x\n", "> quoted line\n"},
	{"mx-reply open tags", "", "<mx-reply>"},
	{"highlight matches", "", "aaaa"},
	{"spans and spoilers", "", `<span data-mx-spoiler="why">s</span>`},
}

func TestLinearCost(t *testing.T) {
	for _, in := range hostileInputs {
		t.Run(in.name, func(t *testing.T) {
			// ~4 KB and ~32 KB of input: an event is at most 96 KB.
			k := max(1, 4096/len(in.unit))
			for name, f := range renderFuncs {
				checkLinear(t, name, f, in.prefix, in.unit, k)
			}
		})
	}
}

// FuzzLinearCost looks for other shapes whose rendering cost is not linear:
// a fragment repeated to about 2 KB and to eight times that must cost at
// most proportionally more in each entry point. (2 KB is past every
// threshold, such as the snippet length, where the work steps up once.)
func FuzzLinearCost(f *testing.F) {
	for _, in := range hostileInputs {
		f.Add(in.prefix, in.unit)
	}
	f.Fuzz(func(t *testing.T, prefix, unit string) {
		if unit == "" || len(prefix) > 64 || len(unit) > 64 {
			return
		}
		for name, fn := range renderFuncs {
			checkLinear(t, name, fn, prefix, unit, max(1, 2048/len(unit)))
		}
	})
}

// TestHighlightBoundsTerms: a query of many distinct words must not make
// highlighting a long message cost one pass over it per word.
func TestHighlightBoundsTerms(t *testing.T) {
	text := strings.Repeat("lorem ipsum dolor sit amet ", 2000)
	var terms []string
	for i := range 200 {
		terms = append(terms, "w"+strings.Repeat("x", i))
	}
	w := countWork(func(r *Renderer, s string) { r.Highlight(s, terms) }, text)
	// A few passes per highlighted term, not one per term in the query.
	if limit := int64(20 * len(text)); w > limit {
		t.Errorf("Highlight with %d terms: work %d on %d bytes, more than %d", len(terms), w, len(text), limit)
	}
	// The terms beyond the cap are not marked; those within it are.
	got := string(newTestRenderer().Highlight("alpha omega", append(append([]string{"alpha"}, terms...), "omega")))
	if got != "<mark>alpha</mark> omega" {
		t.Errorf("Highlight past the term cap = %q", got)
	}
}
