package store

import "testing"

// The final dot is dropped after the address check: "1.2.3.4." is read
// as a host name, its "registrable domain" being "3.4", so one /24 names
// up to 256 sites ("1.2.3.0." … "1.2.3.255.", each "3.X"), and
// "9.9.3.4." shares a site with "1.2.3.4.".
func TestMediaSiteAddressWithFinalDot(t *testing.T) {
	for _, c := range []struct{ server, want string }{
		{"1.2.3.4.", "1.2.3.0/24"},
		{"1.2.3.5.:8448", "1.2.3.0/24"},
	} {
		if got := mediaSite(c.server); got != c.want {
			t.Errorf("mediaSite(%q) = %q; want %q", c.server, got, c.want)
		}
	}
}
