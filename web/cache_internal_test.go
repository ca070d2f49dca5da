package web

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// A response body is built by appending (a bytes.Buffer, appendJSON), so
// its array is often twice its length; the cache's bound is on memory, so
// what it counts must cover the array it keeps alive, not the length. A
// 64 MiB cache of day pages counted by length held some 120 MB of heap,
// and Go's heap grew to twice that.
func TestCacheCountsTheBodiesArrays(t *testing.T) {
	c := newRenderCache(1 << 20)
	body := make([]byte, 1000, 8000)
	c.put("page", cached{body: body})
	got, ok := c.get("page")
	if !ok {
		t.Fatal("the body was not kept")
	}
	if len(got.body) != len(body) {
		t.Fatalf("kept %d bytes of %d", len(got.body), len(body))
	}
	if held := int64(cap(got.body)); c.bytes() < held {
		t.Errorf("the cache counts %d bytes but keeps an array of %d alive", c.bytes(), held)
	}
	if cap(got.body) > len(body)+len(body)/4 {
		t.Errorf("a %d-byte body is kept in an array of %d", len(body), cap(got.body))
	}
}

// TestCachedBodiesArePacked: a response body is kept packed (packBody),
// in memory of its own even when it was built in a lent buffer, and comes
// back byte for byte (responseBody) in a lent buffer of its own; what
// does not pack (small, or already compressed) is kept as it is, and a
// damaged packed body is an error, not a wrong page.
func TestCachedBodiesArePacked(t *testing.T) {
	var page []byte
	for i := range 3000 {
		page = fmt.Appendf(page, "<li class=\"msg\"><a href=\"/room/!r:x/event/$e%d\">12:%02d</a> <span>someone</span> said thing %d</li>\n", i, i%60, i*7)
	}
	lent, err := buildLent(len(page), func(b []byte) ([]byte, error) { return append(b, page...), nil })
	if err != nil {
		t.Fatal(err)
	}
	v := packBody(lent.b)
	lent.done()
	// The lent buffer is lent again, and written over.
	again, _ := buildLent(len(page), func(b []byte) ([]byte, error) { return append(b, bytes.Repeat([]byte{'x'}, len(page))...), nil })
	defer again.done()
	if !v.packed || len(v.body) > len(page)/4 || cap(v.body) != len(v.body) {
		t.Fatalf("a %d-byte page kept packed %v in %d bytes (array of %d)", len(page), v.packed, len(v.body), cap(v.body))
	}
	for range 2 {
		got, err := v.responseBody()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.b, page) || got.release == nil {
			t.Fatalf("unpacked %d bytes (lent %v), want the %d-byte page", len(got.b), got.release != nil, len(page))
		}
		got.done()
	}

	random := make([]byte, 64<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"small": page[:packMin-1], "incompressible": random} {
		v := packBody(b)
		if v.packed {
			t.Errorf("%s: packed", name)
		}
		got, err := v.responseBody()
		if err != nil || !bytes.Equal(got.b, b) || got.release != nil {
			t.Errorf("%s: kept %d bytes (lent %v), %v", name, len(got.b), got.release != nil, err)
		}
	}

	damaged := packBody(page)
	damaged.body = damaged.body[:len(damaged.body)/2]
	if got, err := damaged.responseBody(); err == nil {
		t.Errorf("a damaged packed body unpacked to %d bytes", len(got.b))
	}
}

// TestPackedBodyKeptWholeWhenAskedAgain: unpack replaces a packed entry by
// the whole body, counted at its size, once; an entry that would take
// more than an eighth of the cache whole stays packed.
func TestPackedBodyKeptWholeWhenAskedAgain(t *testing.T) {
	page := bytes.Repeat([]byte("<li>a line of the day, said by someone</li>\n"), 1000)
	for _, limit := range []int64{1 << 20, 128 << 10} {
		c := newRenderCache(limit)
		c.put("page", packBody(page))
		packed := c.bytes()
		v, ok := c.get("page")
		if !ok || !v.packed {
			t.Fatalf("limit %d: not kept packed", limit)
		}
		l, err := v.responseBody()
		if err != nil {
			t.Fatal(err)
		}
		c.unpack("page", l.b)
		l.done()
		v, _ = c.get("page")
		if whole := int64(len(page)) < limit/8; v.packed == whole || !bytes.Equal(must(v.responseBody()).b, page) {
			t.Errorf("limit %d: packed %v after being asked for again, %d bytes", limit, v.packed, len(v.body))
		} else if whole && c.bytes() < int64(len(page)) {
			t.Errorf("limit %d: the whole %d-byte body counted as %d bytes (%d packed)", limit, len(page), c.bytes(), packed)
		}
	}
}

func must(l respBody, err error) respBody {
	if err != nil {
		panic(err)
	}
	return l
}

// TestLentBodyGivenBackAfterSending: sendValidated gives a lent body back
// once, and only once the response holds all of it (plain or gzipped): a
// buffer given back sooner may be lent to another request and written
// over while this one is still being sent.
func TestLentBodyGivenBackAfterSending(t *testing.T) {
	body := bytes.Repeat([]byte("<p>a line of a page</p>\n"), 2000)
	for _, accept := range []string{"", "gzip"} {
		s := &Server{now: time.Now, cache: newRenderCache(1 << 20)}
		req := httptest.NewRequest(http.MethodGet, "/room/!x:example.org/2026-01-01", nil)
		req.Header.Set("Accept-Encoding", accept)
		rec := httptest.NewRecorder()
		c := echo.New().NewContext(req, rec)
		releases, sentThen := 0, -1
		err := s.sendValidated(c, http.StatusOK, echo.MIMETextHTMLCharsetUTF8, `"tag"`, time.Time{}, func() (respBody, error) {
			return respBody{b: body, release: func() { releases++; sentThen = rec.Body.Len() }}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if releases != 1 || sentThen != rec.Body.Len() || sentThen == 0 {
			t.Errorf("Accept-Encoding %q: given back %d times, with %d bytes of %d sent", accept, releases, sentThen, rec.Body.Len())
		}
	}
}

// BenchmarkGzipVariant: what a client that accepts gzip (a crawler, a
// browser) pays on its first request of a day page for its compression,
// at BestSpeed. On the bench machine: this synthetic 800 KB page 2.6 ms
// with compress/gzip, 1.4 ms with klauspost/compress/gzip; a real day
// page of the 1M replay (787 KB) 4.2 and 1.9 ms.
func BenchmarkGzipVariant(b *testing.B) {
	var page []byte
	for i := 0; len(page) < 800<<10; i++ {
		page = fmt.Appendf(page, "<li class=\"msg\" id=\"e%d\"><a class=\"time\" href=\"/room/!r:x/event/$e%d\">12:%02d</a> <span class=\"sender\">someone%d</span> <span class=\"body\">said thing %d about the release</span></li>\n", i, i, i%60, i%97, i*7)
	}
	s := &Server{}
	b.SetBytes(int64(len(page)))
	for b.Loop() {
		if _, err := s.gzipVariant("gzip", page); err != nil {
			b.Fatal(err)
		}
	}
}
