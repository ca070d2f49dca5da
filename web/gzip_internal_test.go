package web

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"testing"
)

// gunzipOneMember decodes b as exactly one gzip member with the standard
// library's reader, failing on anything after it.
func gunzipOneMember(t *testing.T, b []byte) []byte {
	t.Helper()
	br := bytes.NewReader(b)
	r, err := gzip.NewReader(br)
	if err != nil {
		t.Fatalf("gzip header: %v", err)
	}
	r.Multistream(false)
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("gzip body: %v", err)
	}
	if br.Len() != 0 {
		t.Fatalf("%d bytes after the gzip member", br.Len())
	}
	return out
}

// gzipTestBodies are bodies of the shapes a response has: an HTML-like
// page, incompressible bytes (stored blocks), both mixed, and the edges.
func gzipTestBodies() map[string][]byte {
	rng := mrand.NewChaCha8([32]byte{1})
	random := make([]byte, 600<<10)
	_, _ = rng.Read(random)
	var page []byte
	for i := 0; len(page) < 900<<10; i++ {
		page = fmt.Appendf(page, "<li id=\"e%d\"><a href=\"/event/$e%d\">12:%02d</a> someone%d said thing %d</li>\n", i, i, i%60, i%97, i*7)
	}
	var mixed []byte
	for i := 0; len(mixed) < 700<<10; i++ {
		mixed = append(mixed, page[i*1000:i*1000+3000]...)
		mixed = append(mixed, random[i*2000:i*2000+5000]...)
	}
	return map[string][]byte{
		"empty": {}, "one byte": {'x'}, "page": page, "random": random, "mixed": mixed,
		"split minimum": page[:gzipSplitMin], "below split minimum": page[:gzipSplitMin-1],
	}
}

// TestGzipInParts: in every number of parts, gzipInParts writes one gzip
// member that the standard library decodes to the body, with nothing
// after it, a header as compress/gzip writes it at BestSpeed, and (its
// parts' dictionaries) hardly larger than the same body in one part.
func TestGzipInParts(t *testing.T) {
	for name, body := range gzipTestBodies() {
		whole, err := gzipInParts(body, 1)
		if err != nil {
			t.Fatal(err)
		}
		for parts := 1; parts <= 5; parts++ {
			z, err := gzipInParts(body, parts)
			if err != nil {
				t.Fatalf("%s in %d parts: %v", name, parts, err)
			}
			if got := gunzipOneMember(t, z); !bytes.Equal(got, body) {
				t.Fatalf("%s in %d parts: decoded %d bytes unlike the body's %d", name, parts, len(got), len(body))
			}
			if !bytes.Equal(z[:10], []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255}) {
				t.Errorf("%s in %d parts: header % x", name, parts, z[:10])
			}
			if len(z) > len(whole)+len(whole)/100+16*parts {
				t.Errorf("%s in %d parts: %d bytes, in one part %d", name, parts, len(z), len(whole))
			}
		}
	}
}

// TestGzipPartsReachBack: a part's matches reach into the part before it
// (its dictionary): a body whose second half begins with the last 16 KiB
// of its first, incompressible otherwise, takes in two parts no more
// than in one, where without the dictionary the repeat would be stored
// again.
func TestGzipPartsReachBack(t *testing.T) {
	rng := mrand.NewChaCha8([32]byte{2})
	half := make([]byte, 200<<10)
	_, _ = rng.Read(half)
	second := make([]byte, len(half))
	copy(second, half[len(half)-16<<10:])
	_, _ = rng.Read(second[16<<10:])
	body := append(append([]byte{}, half...), second...)
	one, err := gzipInParts(body, 1)
	if err != nil {
		t.Fatal(err)
	}
	two, err := gzipInParts(body, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gunzipOneMember(t, two), body) {
		t.Fatal("two parts decode unlike the body")
	}
	if len(two) > len(one)+256 {
		t.Errorf("in two parts %d bytes, in one %d: the second part did not reach back into the first", len(two), len(one))
	}
}

// TestGzipParts: small bodies are compressed whole, large ones in parts
// of at least gzipPartMin, never more than gzipMaxParts.
func TestGzipParts(t *testing.T) {
	for _, n := range []int{0, 1, gzipSplitMin - 1, gzipSplitMin, 1 << 20, 64 << 20} {
		p := gzipParts(n)
		if p < 1 || p > gzipMaxParts || (n < gzipSplitMin && p != 1) || (p > 1 && n/p < gzipPartMin) {
			t.Errorf("gzipParts(%d) = %d", n, p)
		}
	}
}

// A weight of 0 refuses gzip however it is written: its name in any case,
// after another parameter, with spaces (helper-94).
func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"gzip":                         true,
		"gzip, deflate, br":            true,
		"br;q=1.0, gzip;q=0.8":         true,
		"gzip;q=0":                     false,
		"gzip; q=0":                    false,
		"gzip;Q=0":                     false,
		"gzip; Q=0.000":                false,
		"gzip;foo=1;q=0":               false,
		"gzip;foo=1":                   true,
		"gzip;q=nonsense":              false,
		"identity, *;q=1":              false,
		"":                             false,
		"GZIP;q=0.5":                   true,
		"deflate;q=0, gzip ; q = 0.1 ": true,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v; want %v", header, got, want)
		}
	}
}
