package indexer

import (
	"path/filepath"
	"testing"

	"github.com/blevesearch/bleve/v2"
)

// A period's merge may still count segments when its index closes (the
// index closing under a background compaction): a closed index has no
// snapshot, and counting must answer none rather than panic.
func TestSegmentsOfAClosedIndex(t *testing.T) {
	idx, err := bleve.New(filepath.Join(t.TempDir(), "p"), bleve.NewIndexMapping())
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Index("a", map[string]any{"body": "hello"}); err != nil {
		t.Fatal(err)
	}
	if n := segments(idx); n != 1 {
		t.Fatalf("open index with one document: %d segments, want 1", n)
	}
	if err := idx.Close(); err != nil {
		t.Fatal(err)
	}
	if n := segments(idx); n != 0 {
		t.Fatalf("closed index: %d segments, want 0", n)
	}
}
