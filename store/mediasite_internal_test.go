package store

import "testing"

// The servers one owner can name count as one site: a registrable
// domain's names, one host's ports, an address block; owners the public
// suffix list tells apart stay apart.
func TestMediaSite(t *testing.T) {
	for _, c := range []struct{ server, want string }{
		{"evil.org", "evil.org"},
		{"a1.evil.org", "evil.org"},
		{"x.y.a1.evil.org", "evil.org"},
		{"evil.org:8449", "evil.org"},
		{"a7.evil.org:1", "evil.org"},
		{"EVIL.ORG", "evil.org"},
		{"evil.org.", "evil.org"},
		{"a.EVIL.org.:8448", "evil.org"},
		{"matrix.example.co.uk", "example.co.uk"},
		// The private section's names are given to anyone: one site.
		{"alice.github.io", "github.io"},
		{"bob.github.io", "github.io"},
		{"github.io", "github.io"},
		{"a1.duckdns.org", "duckdns.org"},
		{"x.a2.duckdns.org:8448", "duckdns.org"},
		{"a3.ngrok.io", "ngrok.io"},
		{"a.blogspot.co.uk", "blogspot.co.uk"},
		{"q.r.s3.amazonaws.com", "amazonaws.com"},
		{"co.uk", "co.uk"},
		{"a.b.unlistedtld", "b.unlistedtld"},
		{"a..evil.org", "a..evil.org"},
		{"a.münchen.de", "xn--mnchen-3ya.de"},
		{"xn--mnchen-3ya.de:8448", "xn--mnchen-3ya.de"},
		{"B.MÜNCHEN.DE", "xn--mnchen-3ya.de"},
		{"localhost", "localhost"},
		{"localhost:8008", "localhost"},
		{"1.2.3.4", "1.2.3.0/24"},
		{"1.2.3.200:8448", "1.2.3.0/24"},
		{"1.2.4.4", "1.2.4.0/24"},
		{"[2001:db8:1:2::1]", "2001:db8:1::/48"},
		{"[2001:db8:1:ffff::7]:8448", "2001:db8:1::/48"},
		{"[2001:db8:2::1]:8448", "2001:db8:2::/48"},
		{"[::ffff:1.2.3.9]", "1.2.3.0/24"},
		{"2001:db8:1::5", "2001:db8:1::/48"},
	} {
		if got := mediaSite(c.server); got != c.want {
			t.Errorf("mediaSite(%q) = %q; want %q", c.server, got, c.want)
		}
	}
}
