package web

import "testing"

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
