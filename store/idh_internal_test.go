package store

import (
	"hash/fnv"
	"testing"
)

// TestIDHIsFNV1a: idh is FNV-1a 64 of the ID's bytes, for text and blobs
// alike. An archive's column eh (events_eh) holds these values, so a different hash
// would leave every stored event unfindable.
func TestIDHIsFNV1a(t *testing.T) {
	for _, s := range []string{"", "$", "$iwCJl0mLorYkNxmCcyYe3QZX6Zu0DrX66D7YCgKCQek", "$é🎉", "$archive-bench-1-2", "\xff\xfe"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		want := int64(h.Sum64())
		if got := idh(s); got != want {
			t.Errorf("idh(%q) = %d, want %d", s, got, want)
		}
		if got := idh([]byte(s)); got != want {
			t.Errorf("idh([]byte(%q)) = %d, want %d", s, got, want)
		}
	}
}
