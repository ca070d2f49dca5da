package web

import "sync"

// A response built by appending, whose length is known only at its end
// (a day's JSON, a page's timeline), is built in a lent scratch buffer and
// then copied out at exactly its length. Built in a buffer of its own, it
// was allocated from a guess (1.6 KB an event for the JSON day, twice
// what the corpus's events take) and copied again to its length by the
// render cache, which keeps no spare capacity: two allocations of the
// response's size and more, per first request, where now there is one.

// scratchKeep is the largest buffer put back for reuse: a rare huge
// response does not stay in memory for the ones after it.
const scratchKeep = 4 << 20

var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// buildExact returns what build appends to an empty buffer, in a slice
// whose capacity is its length. size is a guess at the length, for when no
// buffer that large is at hand (the pool is emptied by the collector).
func buildExact(size int, build func([]byte) ([]byte, error)) ([]byte, error) {
	buf := scratchPool.Get().(*[]byte)
	if cap(*buf) < size {
		*buf = make([]byte, 0, size)
	}
	b, err := build((*buf)[:0])
	var out []byte
	if err == nil {
		out = make([]byte, len(b))
		copy(out, b)
	}
	if cap(b) <= scratchKeep {
		*buf = b[:0]
		scratchPool.Put(buf)
	}
	return out, err
}
