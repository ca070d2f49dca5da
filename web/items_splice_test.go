package web

import (
	"errors"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/render"
)

// TestPageItemsSplice: a page's timeline is written in its place, byte
// for byte what printing it gave; a second timeline in one page is
// printed; a page that lost the place is an error, not a page without
// its messages.
func TestPageItemsSplice(t *testing.T) {
	items := []itemView{
		{State: &stateView{ID: "$a", Text: "alice <joined>", Permalink: "/room/!r:x/event/$a"}},
		{State: &stateView{ID: "$b", Text: "bob & co left", Permalink: "/room/!r:x/event/$b"}},
	}
	want := string(timelineItems(items))
	if !strings.Contains(want, "alice &lt;joined&gt;") {
		t.Fatalf("timeline: %q", want)
	}
	pd := pageData{splice: new(itemsSplice)}
	if got := pageItems(pd, items); string(got) != itemsMarker {
		t.Fatalf("first timeline: %q, want the marker", got)
	}
	if got := pageItems(pd, items); string(got) != want {
		t.Errorf("second timeline: %q, want it printed", got)
	}
	out, err := spliceItems([]byte("<main>"+itemsMarker+"</main>"), pd.splice.items)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.b) != "<main>"+want+"</main>" {
		t.Errorf("spliced: %q", out.b)
	}
	if out.release == nil {
		t.Error("spliced page: not in a lent buffer, copied from one")
	}
	out.done()
	if got := pageItems(pageData{}, items); string(got) != want {
		t.Errorf("without a splice: %q, want the timeline printed", got)
	}
	if _, err := spliceItems([]byte("<main></main>"), items); err == nil {
		t.Error("a page without the marker was spliced")
	}
}

// TestBuildExact: what is built and then owned (buildLent, respBody.own)
// comes out at exactly its length, whatever the guess, and a later build
// in the same lent buffer does not change it.
func TestBuildExact(t *testing.T) {
	buildExact := func(size int, build func([]byte) ([]byte, error)) ([]byte, error) {
		l, err := buildLent(size, build)
		return l.own(), err
	}
	first, err := buildExact(4, func(b []byte) ([]byte, error) { return append(b, "a longer response than guessed"...), nil })
	if err != nil || string(first) != "a longer response than guessed" || cap(first) != len(first) {
		t.Fatalf("first: %q (cap %d), %v", first, cap(first), err)
	}
	for range 3 {
		second, err := buildExact(1<<10, func(b []byte) ([]byte, error) { return append(b, "other"...), nil })
		if err != nil || string(second) != "other" || cap(second) != len(second) {
			t.Fatalf("second: %q (cap %d), %v", second, cap(second), err)
		}
	}
	if string(first) != "a longer response than guessed" {
		t.Errorf("first, after later builds: %q", first)
	}
	if out, err := buildExact(8, func(b []byte) ([]byte, error) { return append(b, "half"...), errors.New("failed") }); err == nil || out != nil {
		t.Errorf("a failed build: %q, %v", out, err)
	}
}

// TestWriteTimeAtAsWriteTime: a message's time element, written from its
// timestamp, is the one writeTime writes from fmtTime's strings, for
// times from before the year 1 to past 9999.
func TestWriteTimeAtAsWriteTime(t *testing.T) {
	for _, ms := range []int64{0, -1767225601000, 1266098220500, -62135596800001, 253402300800000, 1 << 50, -(1 << 50)} {
		var got, want render.Markup
		writeTimeAt(&got, ms)
		short, iso := fmtTime(ms)
		writeTime(&want, iso, ms, short)
		if string(got.Result()) != string(want.Result()) {
			t.Errorf("%d: writeTimeAt wrote %q, writeTime %q", ms, got.Result(), want.Result())
		}
	}
}
