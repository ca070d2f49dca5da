package indexer

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

// A document ID of formats 6 to 9 (eventDocID: an index of one of them
// serves while this format's is built) holds the time and the event ID in
// few bytes, reads back to both, sorts by time, and never gives two events
// one ID: an event ID that only looks like a hash (its last character's
// unused bits set) is kept as it is.
func TestEventDocIDsAreCompactAndExact(t *testing.T) {
	hash := "$" + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	// The same 32 bytes with the last character's two unused bits set:
	// a lenient decoder reads it as hash.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", hash[len(hash)-1])
	twin := hash[:len(hash)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last+1])
	// A decoder skips line ends: with one in it, a hash's characters
	// decode to fewer bytes, and the ID is no hash.
	newline := hash[:10] + "\n" + hash[11:]
	ids := []string{hash, twin, newline, hash[:10] + "\r" + hash[11:], "$abc:example.org", "$z001", "$" + strings.Repeat("/", 43), "$\x01x", "\x01" + hash[1:], ""}
	seen := map[string]string{}
	for _, ts := range []int64{0, 1, 1_700_000_000_000, maxIndexTime} {
		for _, ev := range ids {
			d := eventDocID(ts, ev)
			if other, ok := seen[d]; ok {
				t.Fatalf("%q and %q share the document ID %q", other, ev, d)
			}
			seen[d] = ev
			gotTS, gotEv, ok := splitDocID(d)
			if !ok || gotTS != ts || gotEv != ev {
				t.Errorf("eventDocID(%d, %q) reads back as %d, %q, %v", ts, ev, gotTS, gotEv, ok)
			}
		}
	}
	if n := len(eventDocID(1_700_000_000_000, newline)); n < 44 {
		t.Errorf("an event ID with a line end was taken for a hash (%d bytes)", n)
	}
	// Making a document ID allocates only the ID itself.
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { _, _ = appendHash(buf[:0], hash) }); n != 0 {
		t.Errorf("appendHash allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = eventDocID(1_700_000_000_000, hash) }); n > 2 {
		t.Errorf("eventDocID allocates %v times, want at most 2", n)
	}
	if n := len(eventDocID(1_700_000_000_000, hash)); n > 40 {
		t.Errorf("a hash event ID's document ID is %d bytes, want at most 40", n)
	}
	var keys []string
	for _, ts := range []int64{maxIndexTime, 1_700_000_000_001, 0, 1_700_000_000_000, 255, 256} {
		keys = append(keys, eventDocID(ts, hash))
	}
	slices.Sort(keys)
	var order []int64
	for _, k := range keys {
		ts, _, _ := splitDocID(k)
		order = append(order, ts)
	}
	if !slices.IsSorted(order) {
		t.Errorf("document IDs do not sort by time: %v", order)
	}
	for _, bad := range []string{"", "12345", "\x00\x00\x00\x00\x00\x00", "\x00\x00\x00\x00\x00\x00\x01short", "\x00\x00\x00\x00\x00\x00\x03$x"} {
		if _, _, ok := splitDocID(bad); ok {
			t.Errorf("splitDocID(%q) accepted", bad)
		}
	}
}

// A document ID of this format is the time, a tag and the event's key: 15
// bytes, whatever the event ID (the dictionary and stored copy of a hash
// event ID's were 119 of 226 bytes a message of IRC lines). It reads back
// to the time and the key's ref, sorts by time and then key, and a ref
// leads back to the same ID (refDocID), as a cursor's does; a ref of an
// older layout (an event ID) leads to that layout's ID.
func TestDocIDsAreTimeAndKey(t *testing.T) {
	seen := map[string]bool{}
	var ids []string
	for _, ts := range []int64{0, 1, 255, 256, 1_700_000_000_000, maxIndexTime} {
		for _, key := range []uint64{0, 1, 0xff, 0x0123456789abcdef, 1 << 63, ^uint64(0)} {
			d := docID(ts, key)
			if len(d) != 15 {
				t.Errorf("docID(%d, %#x) is %d bytes, want 15", ts, key, len(d))
			}
			if seen[d] {
				t.Fatalf("docID(%d, %#x) repeats", ts, key)
			}
			seen[d] = true
			ids = append(ids, d)
			gotTS, ref, ok := splitDocID(d)
			if k, kok := parseKeyRef(ref); !ok || gotTS != ts || !kok || k != key {
				t.Errorf("docID(%d, %#x) reads back as %d, %q, %v", ts, key, gotTS, ref, ok)
			}
			if refDocID(ts, ref) != d {
				t.Errorf("refDocID(%d, %q) is not docID(%d, %#x)", ts, ref, ts, key)
			}
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if !slices.Equal(sorted, ids) {
		t.Error("document IDs do not sort by time, then key")
	}
	if n := testing.AllocsPerRun(100, func() { _ = docID(1_700_000_000_000, 42) }); n > 2 {
		t.Errorf("docID allocates %v times, want at most 2", n)
	}
	hash := "$" + base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	if refDocID(5, hash) != eventDocID(5, hash) {
		t.Error("an event ID's ref does not lead to its format 9 document ID")
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "$0123456789abcde", "0123456789abcdeg", "+123456789abcdef"} {
		if _, ok := parseKeyRef(bad); ok {
			t.Errorf("parseKeyRef(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"\x00\x00\x00\x00\x00\x00\x03short", "\x00\x00\x00\x00\x00\x00\x03123456789"} {
		if _, _, ok := splitDocID(bad); ok {
			t.Errorf("splitDocID(%q) accepted", bad)
		}
	}
}
