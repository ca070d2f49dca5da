package media

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tokenStaysHome keeps the Authorization header on a redirect to the
// homeserver's origin alone, however its URL is written, and drops it for
// everything Go's client would have let it through to: another port, plain
// HTTP, a subdomain.
func TestTokenStaysHome(t *testing.T) {
	home, _ := url.Parse("https://HS.example.org")
	check := tokenStaysHome(home)
	via := []*http.Request{{URL: home}}
	for _, c := range []struct {
		to   string
		keep bool
	}{
		{"https://hs.example.org/_matrix/media/v3/download/x/y", true},
		{"https://hs.example.org:443/elsewhere", true},
		{"HTTPS://hs.EXAMPLE.org./x", false}, // another spelling of the name: dropped, to be safe
		{"https://hs.example.org:8448/x", false},
		{"http://hs.example.org/x", false},
		{"https://media.hs.example.org/x", false},
		{"https://bucket.example.net/x", false},
		{"https://127.0.0.1/x", false},
	} {
		u, err := url.Parse(c.to)
		if err != nil {
			t.Fatal(err)
		}
		req := &http.Request{URL: u, Header: http.Header{"Authorization": {"Bearer as-token"}}}
		if err := check(req, via); err != nil {
			t.Fatalf("%s: %v", c.to, err)
		}
		if kept := req.Header.Get("Authorization") != ""; kept != c.keep {
			t.Errorf("redirect to %s: token kept %v, want %v", c.to, kept, c.keep)
		}
	}
	req := &http.Request{URL: home, Header: http.Header{}}
	if err := check(req, make([]*http.Request, maxRedirects)); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Errorf("redirect %d: %v; want it refused", maxRedirects+1, err)
	}
}
