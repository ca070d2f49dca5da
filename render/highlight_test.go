package render

import (
	"strings"
	"testing"
)

func TestHighlight(t *testing.T) {
	r := New(Options{})
	for _, tc := range []struct {
		name, text string
		terms      []string
		want       string
	}{
		{"one term", "podman works on runners", []string{"podman"}, "<mark>podman</mark> works on runners"},
		{"case-insensitive", "Podman and PODMAN", []string{"podman"}, "<mark>Podman</mark> and <mark>PODMAN</mark>"},
		{"phrase", "the docker driver hangs", []string{"docker driver"}, "the <mark>docker driver</mark> hangs"},
		{"escaped", `<script>alert("x")</script> podman`, []string{"podman"}, `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <mark>podman</mark>`},
		{"markup in the term is text", "a <b> tag", []string{"<b>"}, "a <mark>&lt;b&gt;</mark> tag"},
		{"no terms", "plain", nil, "plain"},
		{"overlapping terms", "podman", []string{"pod", "podman"}, "<mark>pod</mark>man"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(r.Highlight(tc.text, tc.terms)); got != tc.want {
				t.Errorf("Highlight = %q, want %q", got, tc.want)
			}
		})
	}
	long := strings.Repeat("filler words here ", 100) + "the needle is here " + strings.Repeat("more filler ", 100)
	got := string(r.Highlight(long, []string{"needle"}))
	if !strings.Contains(got, "<mark>needle</mark>") || !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "…") || len([]rune(got)) > 400 {
		t.Errorf("long text snippet = %q", got)
	}
}
