package render

import (
	"html"
	"strings"
	"testing"
	"unicode/utf8"
)

// Lower-casing changes the byte length of a few runes ("İ", the Kelvin
// sign, "Ⱥ") and of invalid bytes. Highlight gave up on any text with one:
// a search result's snippet of a long message was its first 300
// characters with nothing marked, and need not hold the word searched for
// at all, though the same message with "I" for "İ" showed and marked it.
func TestHighlightWhereLowerCaseChangesLength(t *testing.T) {
	r := New(Options{})
	for _, tc := range []struct {
		name, text string
		terms      []string
		want       string
	}{
		{"dotted capital I before the match", "İstanbul meetup: kumquat", []string{"kumquat"}, "İstanbul meetup: <mark>kumquat</mark>"},
		// The index lower-cases "İ" to "i" (unicode.ToLower), so a search
		// for istanbul finds İstanbul, and the snippet marks it.
		{"dotted capital I matched by i", "İstanbul and ISTANBUL", []string{"istanbul"}, "<mark>İstanbul</mark> and <mark>ISTANBUL</mark>"},
		{"dotted capital I in the term", "istanbul", []string{"İstanbul"}, "<mark>istanbul</mark>"},
		// Dotless ı is its own lower case and I's is i: the index does not
		// match them, and neither does Highlight.
		{"dotless i is not i", "Istanbul ıstanbul", []string{"ıstanbul"}, "Istanbul <mark>ıstanbul</mark>"},
		{"Kelvin sign", "\u212Aelvin and kelvin", []string{"kelvin"}, "<mark>\u212Aelvin</mark> and <mark>kelvin</mark>"},
		{"rune whose lower case is longer", "Ⱥb podman", []string{"podman"}, "Ⱥb <mark>podman</mark>"},
		{"shorter then longer, the same length in all", "İpodmanȺ", []string{"podman"}, "İ<mark>podman</mark>Ⱥ"},
		{"lowered runes inside the match", "x İȺ y", []string{"iⱥ"}, "x <mark>İȺ</mark> y"},
		{"invalid UTF-8", "\xff\xfe podman", []string{"podman"}, "\xff\xfe <mark>podman</mark>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(r.Highlight(tc.text, tc.terms)); got != tc.want {
				t.Errorf("Highlight = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHighlightFinalSigma: the index lower-cases a capital Σ ending a word
// to the final sigma ς, so a search for οδος (as Greek is written) finds a
// message saying "ΟΔΟΣ", and a search for ΟΔΟΣ finds "οδος". Highlight
// lowered "ΟΔΟΣ" to "οδοσ" and marked nothing, and a long message's
// snippet was its first 300 characters rather than around the match.
func TestHighlightFinalSigma(t *testing.T) {
	r := New(Options{})
	for _, tc := range []struct {
		name, text string
		terms      []string
		want       string
	}{
		{"capitals found by the written word", "ΟΔΟΣ closed", []string{"οδος"}, "<mark>ΟΔΟΣ</mark> closed"},
		{"written word found by capitals", "οδος closed", []string{"ΟΔΟΣ"}, "<mark>οδος</mark> closed"},
		{"both spellings, one term", "ΟΔΟΣ or οδος", []string{"Οδος"}, "<mark>ΟΔΟΣ</mark> or <mark>οδος</mark>"},
		{"sigma inside the word unchanged", "ΣΟΦΙΑ σοφια", []string{"σοφια"}, "<mark>ΣΟΦΙΑ</mark> <mark>σοφια</mark>"},
		// οδος and ΟΔΟΣ are one term once folded: marked once, not twice.
		{"folded terms deduplicated", "ΟΔΟΣ", []string{"οδος", "ΟΔΟΣ"}, "<mark>ΟΔΟΣ</mark>"},
		{"escaped around it", "<ΟΔΟΣ>", []string{"οδος"}, "&lt;<mark>ΟΔΟΣ</mark>&gt;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(r.Highlight(tc.text, tc.terms)); got != tc.want {
				t.Errorf("Highlight = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("long message cut around the match", func(t *testing.T) {
		filler := strings.Repeat("lorem ipsum dolor sit amet ", 30)
		got := string(r.Highlight(filler+"ΟΔΟΣ closed "+filler, []string{"οδος"}))
		if !strings.HasPrefix(got, "…") || !strings.Contains(got, "<mark>ΟΔΟΣ</mark> closed") {
			t.Errorf("snippet %q; want it cut around ΟΔΟΣ and marking it", got)
		}
	})
}

// TestHighlightSnippetAroundMatchAfterİ: a long message with runes whose
// lower case is shorter or longer, before and around the match, is still
// cut around its first match and marks it, at whole runes.
func TestHighlightSnippetAroundMatchAfterİ(t *testing.T) {
	r := New(Options{})
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 30)
	for _, odd := range []string{"İ", "\u212A", "Ⱥ", "\xff"} {
		text := "Istanbul meetup: " + filler + strings.Repeat(odd, 50) + " kumquat " + strings.Repeat(odd+" ", 200)
		text = strings.Replace(text, "I", odd, 1)
		got := string(r.Highlight(text, []string{"kumquat"}))
		if !strings.Contains(got, odd+" <mark>kumquat</mark> "+odd) || !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") {
			t.Errorf("%q: snippet %q; want it cut around the match and marking it", odd, got)
		}
		// A third of a snippet before the match, as for any text.
		if before, _, _ := strings.Cut(got, "<mark>"); utf8.RuneCountInString(before) != 1+snippetRunes/3 {
			t.Errorf("%q: %d runes before the match, want %d", odd, utf8.RuneCountInString(before)-1, snippetRunes/3)
		}
		if n := utf8.RuneCountInString(strings.NewReplacer("<mark>", "", "</mark>", "").Replace(got)); n != snippetRunes+2 {
			t.Errorf("%q: snippet of %d runes with its ellipses, want %d", odd, n, snippetRunes+2)
		}
	}
}

// TestHighlightCostWhereLowerCaseChangesLength: mapping offsets back to
// the original stays linear when every rune shifts them.
func TestHighlightCostWhereLowerCaseChangesLength(t *testing.T) {
	for _, unit := range []string{"İa", "İi", "\u212Ak ", "Ⱥⱥ", "\xffa", "İstanbul İ", "ΟΔΟΣ ς"} {
		checkLinear(t, "Highlight "+unit, renderFuncs["Highlight"], "", unit, max(1, 4096/len(unit)))
		checkLinear(t, "Highlight istanbul "+unit, func(r *Renderer, s string) {
			r.Highlight(s, []string{"i", "istanbul", "İ", "a", "k", "οδος"})
		}, "", unit, max(1, 4096/len(unit)))
	}
}

// FuzzHighlight: whatever the text, a term that occurs in it (as the index
// lower-cases both) is marked, every mark holds that term, and no rune of
// valid text is split.
func FuzzHighlight(f *testing.F) {
	f.Add("İstanbul meetup: kumquat", "kumquat")
	f.Add("İpodmanȺ", "podman")
	f.Add(strings.Repeat("İ", 400)+"needle"+strings.Repeat("Ⱥ", 400), "needle")
	f.Add("\xff\xfe\u212Aelvin", "kelvin")
	f.Add(strings.Repeat("lorem ipsum ", 40)+"istanbul", "İstanbul")
	f.Add("ΟΔΟΣ closed", "οδος")
	f.Fuzz(func(t *testing.T, text, term string) {
		want := foldTerm(strings.ToLower(strings.TrimSpace(term)))
		if want == "" || strings.ContainsRune(term, 0) || utf8.RuneCountInString(want) > snippetRunes/3 {
			return // NUL is escaped to U+FFFD; a long term may not fit a snippet
		}
		got := string(New(Options{}).Highlight(text, []string{term}))
		if utf8.ValidString(text) && !utf8.ValidString(got) {
			t.Fatalf("Highlight(%q, %q) = %q splits a rune", text, term, got)
		}
		// As highlightTerms lower-cases and folds the term.
		lower := foldTerm(strings.ToLower(text))
		if strings.Contains(lower, want) != strings.Contains(got, "<mark>") {
			t.Fatalf("Highlight(%q, %q) = %q; the term occurs: %v", text, term, got, strings.Contains(lower, want))
		}
		for rest := got; ; {
			_, after, ok := strings.Cut(rest, "<mark>")
			if !ok {
				break
			}
			marked, next, _ := strings.Cut(after, "</mark>")
			if m := foldTerm(strings.ToLower(html.UnescapeString(marked))); m != want {
				t.Fatalf("Highlight(%q, %q) = %q marks %q", text, term, got, marked)
			}
			rest = next
		}
	})
}

// BenchmarkHighlight: a search result's snippet of a long message, all
// ASCII (most messages) and with runes whose lower case is shorter.
func BenchmarkHighlight(b *testing.B) {
	r := New(Options{})
	filler := strings.Repeat("Lorem ipsum dolor sit amet ", 30)
	for _, bc := range []struct{ name, text string }{
		{"ascii", "Istanbul meetup: " + filler + " kumquat " + filler},
		{"turkish", "İstanbul meetup: " + filler + " kumquat İ " + filler},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.text)))
			for b.Loop() {
				r.Highlight(bc.text, []string{"kumquat", "istanbul"})
			}
		})
	}
}
