package web

import "sync"

// A response built by appending, whose length is known only at its end
// (a day's JSON, a page's timeline), is built in a lent scratch buffer
// (buildLent), sent from it and given back once sent; the render cache
// keeps a packed copy (packBody), and a cached body is unpacked into a
// lent buffer for each request (cached.responseBody). Built in a buffer
// of its own, it was allocated from a guess (1.6 KB an event for the JSON
// day, twice what the corpus's events take) and copied again to its
// length by the render cache: two allocations of the response's size and
// more, per first request; then one, and now none of its size. A page
// not kept (an error page, the about page) is copied out of it at its
// length (respBody.own).

// scratchKeep is the largest buffer put back for reuse: a rare huge
// response does not stay in memory for the ones after it.
const scratchKeep = 4 << 20

var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// exactCopy is b in memory of its own, at exactly its length.
func exactCopy(b []byte) []byte {
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// respBody is a response body. A lent one (release set) is in a scratch
// buffer, which done gives back: nothing may read b after that.
type respBody struct {
	b       []byte
	release func()
}

// done gives a lent buffer back, if the body is lent.
func (l respBody) done() {
	if l.release != nil {
		l.release()
	}
}

// own is the body in memory of its own: a lent one copied out at exactly
// its length, its buffer given back.
func (l respBody) own() []byte {
	if l.release == nil {
		return l.b
	}
	out := exactCopy(l.b)
	l.done()
	return out
}

// buildLent returns what build appends to an empty buffer lent from the
// pool, in that buffer. size is a guess at the length, for when no buffer
// that large is at hand (the pool is emptied by the collector). On an
// error the buffer is given back at once.
func buildLent(size int, build func([]byte) ([]byte, error)) (respBody, error) {
	buf := scratchPool.Get().(*[]byte)
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	b, err := build((*buf)[:0])
	release := func() {
		if cap(b) <= scratchKeep {
			*buf = b[:0]
			scratchPool.Put(buf)
		}
	}
	if err != nil {
		release()
		return respBody{}, err
	}
	return respBody{b: b, release: release}, nil
}
