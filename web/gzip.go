package web

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// A body of at least gzipSplitMin bytes is compressed in parts, each of
// at least gzipPartMin bytes, one on each core the process may use (at
// most gzipMaxParts), into one gzip member whose deflate stream is the
// parts' streams one after the other: each part but the last ends with
// a sync flush (an empty stored block, which leaves the stream on a byte
// boundary and not final), and each part after the first is compressed
// with the 32 KiB before it as its dictionary, so its matches may reach
// back into the part before it, as they would in one stream (pigz and
// klauspost's pgzip write the same). A first request for a day page in
// gzip, a crawler's usual request, waited for the whole page's
// compression on one core: 1.9 ms of a 787 KB page, while the other core
// had little to do. An 800 KB page with two cores, alternated runs: one
// writer 1.59-2.07 ms, pooled writers in one part 1.31-1.54, in two parts
// 0.75-1.04. archive-bench's first requests of day pages in gzip did not
// show it: their p50 moved more than that with the host's speed.
const (
	gzipSplitMin = 256 << 10
	gzipPartMin  = 128 << 10
	gzipMaxParts = 4
)

// gzipParts is how many parts gzipBody compresses n bytes in.
func gzipParts(n int) int {
	if n < gzipSplitMin {
		return 1
	}
	return max(1, min(runtime.GOMAXPROCS(0), gzipMaxParts, n/gzipPartMin))
}

// gzipBody is body as one gzip member (RFC 1952) compressed at
// flate.BestSpeed, in gzipParts(len(body)) parts at once.
func gzipBody(body []byte) ([]byte, error) {
	return gzipInParts(body, gzipParts(len(body)))
}

// gzipInParts is gzipBody in the given number of parts (at least one).
func gzipInParts(body []byte, parts int) ([]byte, error) {
	parts = max(1, parts)
	outs := make([]bytes.Buffer, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		wg.Go(func() { errs[i] = deflatePart(&outs[i], body, i, parts) })
	}
	errs[0] = deflatePart(&outs[0], body, 0, parts)
	sum := crc32.ChecksumIEEE(body)
	wg.Wait()
	n := 18 // header and trailer
	for i := range outs {
		if errs[i] != nil {
			return nil, fmt.Errorf("gzip: %w", errs[i])
		}
		n += outs[i].Len()
	}
	// ID1 ID2, CM deflate, no flags, no time, XFL 4 (the fastest
	// compression), OS unknown: what compress/gzip writes at BestSpeed.
	out := append(make([]byte, 0, n), 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255)
	for i := range outs {
		out = append(out, outs[i].Bytes()...)
	}
	out = binary.LittleEndian.AppendUint32(out, sum)
	return binary.LittleEndian.AppendUint32(out, uint32(len(body))), nil
}

// deflaters keeps flate writers between responses: a new one is some
// 300 KB of tables to allocate and clear.
var deflaters = sync.Pool{New: func() any {
	z, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for a level out of range
	}
	return z
}}

// deflatePart writes part i of parts of body to w as raw deflate: ended
// with a sync flush unless it is the last, whose final block ends the
// stream.
func deflatePart(w *bytes.Buffer, body []byte, i, parts int) error {
	start, end := len(body)*i/parts, len(body)*(i+1)/parts
	w.Grow((end-start)/4 + 64)
	z := deflaters.Get().(*flate.Writer)
	defer func() {
		z.ResetDict(io.Discard, nil) // holds on to neither w nor body
		deflaters.Put(z)
	}()
	z.ResetDict(w, body[max(0, start-32<<10):start])
	if _, err := z.Write(body[start:end]); err != nil {
		return err
	}
	if i < parts-1 {
		return z.Flush()
	}
	return z.Close()
}
