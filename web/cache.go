package web

import (
	"bytes"
	"container/list"
	"fmt"
	"html/template"
	"sync"

	"github.com/klauspost/compress/s2"
)

// The render cache: what rendering produced, kept in memory up to
// Options.CacheBytes, least recently used dropped first. Two kinds of
// entries share it:
//
//   - a message's rendered HTML (a renderJob), keyed by a hash of exactly
//     what rendering reads (its displayed content and media state, the
//     digest validator computes); plain text is rendered afresh (run);
//   - a whole response body, keyed by its page, status and ETag.
//
// Neither needs invalidating: a key is a hash of everything the entry
// shows, and the ETag already changes with any change a page shows (an
// edit, a redaction, a reaction, an expiry, an opt-out, a takedown, a new
// name: TestCachedPagesFollowEveryChange), so a change makes a new key
// and the old entry is simply never asked for again, on every replica
// alike and without waiting for the change feed. What a page may show
// (a hidden room, a withdrawn message) is still decided from the store on
// every request, before the cache is consulted.
type renderCache struct {
	mu    sync.Mutex
	limit int64
	size  int64
	order *list.List // of *cacheEntry, most recently used first
	items map[string]*list.Element
}

// cached is a cache entry's value: one of the three is set.
type cached struct {
	html template.HTML // a message rendered by render.Message
	body []byte        // a response body, shared read-only by every request
	page *pageEntry    // or what answers a page key (pagekey.go)
	// packed: body is packed (packBody), unpacked to be sent (until
	// renderCache.unpack keeps it whole).
	packed bool
}

// Response bodies are kept packed with S2 (klauspost/compress): on the
// bench's 1M replay a day page of 787 KB takes 118 KB, packed in 0.28 ms
// and unpacked in 0.10 ms, and its JSON 796 KB takes 125 KB. Kept whole,
// each page asked for the first time grew the heap by its size, and
// first touching a page of memory is a page fault, 12 µs each on the
// bench's virtual machine. In archive-bench's first requests of 20 day
// pages archive-web spent 19.0-19.7 ms of CPU a page, 13.4-16.6 with
// the bodies packed (three runs each), and the cache holds six times the
// pages within its bound. A body asked for again is unpacked (0.1 ms)
// and kept whole from then on (renderCache.unpack). A body smaller than
// packMin, or that packs to more than seven eighths of its size (a gzip
// variant), is kept as it is.
const packMin = 4 << 10

// packBody is the cache's value for the response body b, in memory of its
// own (b may be lent: respBody).
func packBody(b []byte) cached {
	if n := s2.MaxEncodedLen(len(b)); len(b) >= packMin && n > 0 {
		enc, err := buildLent(n, func(dst []byte) ([]byte, error) { return s2.Encode(dst[:n], b), nil })
		if err == nil {
			defer enc.done()
			if len(enc.b) <= len(b)/8*7 {
				return cached{body: exactCopy(enc.b), packed: true}
			}
		}
	}
	return cached{body: exactCopy(b)}
}

// responseBody is a cached response body as it is sent: unpacked into a
// lent buffer if it was packed.
func (c cached) responseBody() (respBody, error) {
	if !c.packed {
		return respBody{b: c.body}, nil
	}
	n, err := s2.DecodedLen(c.body)
	if err != nil {
		return respBody{}, fmt.Errorf("unpack a cached response: %w", err)
	}
	return buildLent(n, func(dst []byte) ([]byte, error) {
		b, err := s2.Decode(dst[:n], c.body)
		if err != nil {
			return nil, fmt.Errorf("unpack a cached response: %w", err)
		}
		return b, nil
	})
}

type cacheEntry struct {
	key  string
	val  cached
	size int64
}

// cacheEntryOverhead approximates an entry's bookkeeping (list element,
// map slot, headers), so that many small entries are not undercounted.
const cacheEntryOverhead = 160

// newRenderCache returns a cache of at most limit bytes, or nil (no
// caching) for limit ≤ 0.
func newRenderCache(limit int64) *renderCache {
	if limit <= 0 {
		return nil
	}
	return &renderCache{limit: limit, order: list.New(), items: map[string]*list.Element{}}
}

func (c *renderCache) get(key string) (cached, bool) {
	if c == nil {
		return cached{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return cached{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).val, true
}

// put keeps val under key, dropping the least recently used entries past
// the limit. An entry larger than an eighth of the cache is not kept: one
// huge page must not flush every other.
func (c *renderCache) put(key string, val cached) {
	if c == nil {
		return
	}
	size := int64(len(key)+len(val.html)+len(val.body)) + cacheEntryOverhead
	if val.page != nil {
		size += int64(len(val.page.contentType) + len(val.page.etag) + len(val.page.bodyKey) + len(val.page.robots))
		for r, f := range val.page.rooms {
			size += int64(len(r) + len(f))
		}
	}
	if size > c.limit/8 {
		return
	}
	// A body built by appending often sits in an array twice its length
	// (bytes.Buffer, appendJSON): kept as it was, a cache of day pages
	// held about twice its bound in heap. Copied to its length (rounded
	// up to Go's size class), the count is the memory kept alive.
	if cap(val.body) > len(val.body) {
		val.body = bytes.Clone(val.body)
		size += int64(cap(val.body) - len(val.body))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		if e := el.Value.(*cacheEntry); val.page != nil {
			// What answers a page key is replaced: the old one was found
			// stale (pageEntry.rooms).
			c.size += size - e.size
			e.val, e.size = val, size
			c.evict()
		}
		// Otherwise two requests rendered the same thing at once: keep one.
		return
	}
	c.items[key] = c.order.PushFront(&cacheEntry{key: key, val: val, size: size})
	c.size += size
	c.evict()
}

// send is v, key's entry, as its body is sent (responseBody); a packed
// body is kept whole from now on (unpack).
func (c *renderCache) send(key string, v cached) (respBody, error) {
	l, err := v.responseBody()
	if err == nil && v.packed {
		c.unpack(key, l.b)
	}
	return l, err
}

// unpack keeps b, the unpacked body of key's packed entry, in its place:
// a page asked for again (a reader's reload, a link passed around) is
// likely to be asked for more, and is then sent as it is kept, without
// unpacking for each request; a page asked for once, as a crawler asks
// for every day, stays packed. An entry whole would be over an eighth of
// the cache stays packed too.
func (c *renderCache) unpack(key string, b []byte) {
	size := int64(len(key)+len(b)) + cacheEntryOverhead
	if c == nil || size > c.limit/8 {
		return
	}
	whole := exactCopy(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return
	}
	if e := el.Value.(*cacheEntry); e.val.packed {
		c.size += size - e.size
		e.val, e.size = cached{body: whole}, size
		c.evict()
	}
}

// evict drops the least recently used entries past the limit.
func (c *renderCache) evict() {
	for c.size > c.limit {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.items, e.key)
		c.size -= e.size
	}
}

// bytes is what the cache holds now, by its own count.
func (c *renderCache) bytes() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
