package web

import (
	"net/url"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// pathSegmentByPathEscape is how pathSegment escaped before it wrote the
// bytes itself.
func pathSegmentByPathEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "%21", "!")
}

var pathSegmentSeeds = []string{
	"", "!abc:example.org", "$ev/with+slash=and;semi,comma?q#frag", "ubuntu", "#room:example.org",
	"100% sure", "%21", "a b\tc\n", "é\xff\x00", "~-_.!$&+:=@", "'()*[]{}<>\"\\^`|",
}

// TestPathSegmentAsPathEscape: the same escaping as url.PathEscape with
// '!' kept, and roomPath as the segments joined.
func TestPathSegmentAsPathEscape(t *testing.T) {
	for _, s := range pathSegmentSeeds {
		checkPathSegment(t, s)
	}
	for c := range 256 {
		checkPathSegment(t, string([]byte{byte(c)}))
	}
	r := store.Room{ID: id.RoomID("!r/1:example.org"), Alias: "#a b:example.org"}
	if got, want := roomPath(r, "event", "$e/1"), "/room/a%20b:example.org/event/$e%2F1"; got != want {
		t.Errorf("roomPath: %q, want %q", got, want)
	}
	if got, want := roomPath(store.Room{ID: "!r:example.org"}), "/room/!r:example.org"; got != want {
		t.Errorf("roomPath: %q, want %q", got, want)
	}
}

func checkPathSegment(t *testing.T, s string) {
	t.Helper()
	if got, want := pathSegment(s), pathSegmentByPathEscape(s); got != want {
		t.Errorf("%q: %q, want %q", s, got, want)
	}
	if got, want := roomPath(store.Room{ID: id.RoomID(s)}, s, "x"), "/room/"+pathSegmentByPathEscape(s)+"/"+pathSegmentByPathEscape(s)+"/x"; got != want {
		t.Errorf("roomPath of %q: %q, want %q", s, got, want)
	}
}

func FuzzPathSegmentAsPathEscape(f *testing.F) {
	for _, s := range pathSegmentSeeds {
		f.Add(s)
	}
	f.Fuzz(checkPathSegment)
}

// TestEventLinksAsEventPath: a room's eventLinks give each event the
// permalink eventPath gives it, under the base, and MatrixToEvent's link.
func TestEventLinksAsEventPath(t *testing.T) {
	via := []string{"example.org", "other.example"}
	rooms := []store.Room{
		{ID: "!r:example.org"},
		{ID: "!r/1:example.org", Alias: "#a b:example.org"},
		{ID: "!r%:example.org", Alias: "#!looks:example.org"},
	}
	for _, r := range rooms {
		for _, base := range []string{"", "https://archive.example"} {
			l := newEventLinks(base, r, via)
			for _, s := range pathSegmentSeeds {
				ev := id.EventID(s)
				if got, want := l.permalink(ev), base+eventPath(r, ev); got != want {
					t.Errorf("room %s, base %q, event %q: permalink %q, want %q", r.ID, base, s, got, want)
				}
				if got, want := l.matrixTo(ev), event.MatrixToEvent(string(r.ID), ev, via); got != want {
					t.Errorf("room %s, event %q: matrix.to %q, want %q", r.ID, s, got, want)
				}
			}
		}
	}
}
