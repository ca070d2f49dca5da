package ingest

import (
	"bytes"

	"github.com/mxarchive/mxarchive/event"
)

// maxEnvelopeDepth is how deep the homeserver's envelopes around events
// (a transaction, a /messages page, a /sync response) nest, outside the
// events themselves, beyond which leaveOutDeep leaves the body to
// encoding/json to refuse: 10,000, encoding/json's own bound.
const maxEnvelopeDepth = 10000

// leaveOutDeep returns body with null in place of every event, or any
// other array element, nested more than event.MaxDepth levels (counting
// itself), and how many it replaced. An event is an array element in
// every envelope the archiver reads, and encoding/json counts depth from
// the envelope: one event nested as deep as it allows, decoded in its
// transaction, /messages page or /sync response, failed the whole body,
// which the homeserver then resent, or the sweep or /sync asked again, for
// ever (ARCHITECTURE.md rule 7). event.Parse refuses null as it refuses
// the deep event, so the caller's malformed-event path logs and skips it.
//
// It is one pass without recursion or a stack inside an element, so an
// element of any depth costs its length. Brackets inside an element are
// counted, not matched: the element is dropped whole either way, and the
// caller's decoding checks everything outside it. body is returned as it
// is when nothing is replaced.
func leaveOutDeep(body []byte) ([]byte, int) {
	var (
		out    []byte
		copied int
		n      int
		// open holds, outside any element, whether each enclosing
		// container is an array.
		open []bool
		// elem is the offset of the array element being measured, -1
		// outside one; elemDepth its depth; deep whether it goes past
		// event.MaxDepth.
		elem, elemDepth = -1, 0
		deep            bool
		depth           int
	)
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			i = stringEnd(body, i)
		case '[', '{':
			depth++
			switch {
			case elem >= 0:
				if depth-elemDepth+1 > event.MaxDepth {
					deep = true
				}
			case len(open) > 0 && open[len(open)-1]:
				elem, elemDepth, deep = i, depth, false
			case depth > maxEnvelopeDepth:
				return body, 0 // not an envelope: encoding/json says so
			default:
				open = append(open, body[i] == '[')
			}
		case ']', '}':
			switch {
			case depth == 0:
				return body, 0
			case elem >= 0 && depth == elemDepth:
				if deep {
					out = append(append(out, body[copied:elem]...), "null"...)
					copied, n = i+1, n+1
				}
				elem = -1
			case elem < 0:
				open = open[:len(open)-1]
			}
			depth--
		}
	}
	if n == 0 {
		return body, 0
	}
	return append(out, body[copied:]...), n
}

// stringEnd returns the offset of the quote that ends the string opening
// at b[i], or len(b) when it does not end. It looks for quotes alone
// (bytes.IndexByte), the text being most of a body's bytes: a quote
// ends the string unless the run of backslashes before it is odd.
func stringEnd(b []byte, i int) int {
	for j := i + 1; ; j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		odd := false
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			odd = !odd
		}
		if !odd {
			return j
		}
	}
}
