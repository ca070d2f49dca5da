package indexer_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mxarchive/mxarchive/indexer"
)

// The index's lower-casing agrees with strings.ToLower on valid text but
// for a capital sigma ending a word (a final sigma, as Bleve's filter
// made it), and keeps a byte that is not UTF-8 as it is.
func TestLowerWordAsToLower(t *testing.T) {
	for _, w := range []string{"", "abc", "ABC", "İstanbul", "İSTANBUL", "xİy", "ȺȾ", "\u212A", "ΟΔΟΣ", "ΣΑΣ", "Straße", "ǅ", "aİ\xffB"} {
		got := string(indexer.LowerWord([]byte(w)))
		want := strings.ToLower(w)
		if strings.HasSuffix(w, "Σ") {
			want = strings.TrimSuffix(want, "σ") + "ς"
		}
		if !utf8.ValidString(w) {
			want = "ai\xffb" // the invalid byte kept, not U+FFFD
		}
		if got != want {
			t.Errorf("lowerWord(%q) = %q, want %q", w, got, want)
		}
	}
}

func FuzzLowerWord(f *testing.F) {
	for _, s := range []string{"İstanbul", "ABC", "ȺȾx", "ΣΑΣ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || strings.HasSuffix(s, "Σ") {
			return
		}
		if got := string(indexer.LowerWord([]byte(s))); got != strings.ToLower(s) {
			t.Errorf("lowerWord(%q) = %q, want %q", s, got, strings.ToLower(s))
		}
	})
}
