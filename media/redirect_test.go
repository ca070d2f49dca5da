package media_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// redirectTarget serves any file it is asked for and records the
// Authorization header each request came with, by host and path.
type redirectTarget struct {
	mu   sync.Mutex
	auth map[string]string
}

func (r *redirectTarget) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth[req.Host+req.URL.Path] = req.Header.Get("Authorization")
	r.mu.Unlock()
	fmt.Fprint(w, "bytes from "+req.Host+req.URL.Path)
}

func (r *redirectTarget) seen() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.auth)
}

// The appservice token goes to the homeserver alone. A media download the
// homeserver redirects (to a bucket, a CDN, a media repository) is followed,
// but without the token wherever the redirect leads off the homeserver's
// origin: Go's client keeps the Authorization header for the same host
// name on another port, or over plain HTTP, and for its subdomains, and
// the token is the appservice's whole power over the homeserver. A
// redirect within the origin keeps it (the homeserver asking for itself).
func TestFetcherRedirectsWithoutTheToken(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	target := &redirectTarget{auth: map[string]string{}}
	tsrv := httptest.NewServer(target)
	defer tsrv.Close()
	tu, _ := url.Parse(tsrv.URL)
	// The homeserver redirects each file to where its media ID says: the
	// target on another port of the same address, or by another name, or
	// a path of its own.
	var hsURL string
	hs := &homeserver{v1: true, files: map[string]string{"example.org/here": "bytes from the homeserver"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer as-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/example.org/port"):
			http.Redirect(w, r, "http://127.0.0.1:"+tu.Port()+"/bucket/port", http.StatusFound)
		case strings.HasSuffix(r.URL.Path, "/example.org/name"):
			http.Redirect(w, r, "http://localhost:"+tu.Port()+"/bucket/name", http.StatusTemporaryRedirect)
		case strings.HasSuffix(r.URL.Path, "/example.org/self"):
			http.Redirect(w, r, hsURL+"/_matrix/client/v1/media/download/example.org/here?user_id=%40archive%3Aexample.org", http.StatusFound)
		default:
			hs.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	hsURL = srv.URL
	var evs []store.Event
	evs = append(evs, ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`))
	for i, id := range []string{"port", "name", "self"} {
		evs = append(evs, ev(t, "$"+id, "m.room.message", "@bob:example.org", 2000+int64(i), nil,
			fmt.Sprintf(`{"msgtype":"m.file","body":"f","url":"mxc://example.org/%s"}`, id)))
	}
	if _, err := st.PutEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	blobs, _ := media.OpenDir(t.TempDir())
	f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"port", "name", "self"} {
		if m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: id}); m.State != store.MediaReady {
			t.Errorf("%s: state %v, error %q; want the redirect followed and the file stored", id, m.State, m.Error)
		}
	}
	seen := target.seen()
	if len(seen) != 2 {
		t.Fatalf("the redirect target was asked %d times; want twice", len(seen))
	}
	for where, auth := range seen {
		if auth != "" {
			t.Errorf("a redirect off the homeserver's origin carried %q to %s", auth, where)
		}
	}
}
