package web

import "testing"

// TestIsolated: plain text that could turn the words around it is put
// between U+2068 and U+2069, without isolate controls of its own; any
// other is left as it is.
func TestIsolated(t *testing.T) {
	for in, want := range map[string]string{
		"Ubuntu":                "Ubuntu",
		"#room:example.org (1)": "#room:example.org (1)",
		"\u202eevil":            "\u2068\u202eevil\u2069",
		"שלום":                  "\u2068שלום\u2069",
		"مرحبا 2":               "\u2068مرحبا 2\u2069",
		"a\u2069\u202eb\u2066c": "\u2068a\u202ebc\u2069",
		"\u200fmark":            "\u2068\u200fmark\u2069",
	} {
		if got := isolated(in); got != want {
			t.Errorf("isolated(%+q) = %+q, want %+q", in, got, want)
		}
	}
}
