package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDirSizeFollowsALinkedDirectory: an index linked into a data
// directory is measured by what it holds, not as the link itself
// (archive-bench search printed 0 bytes a message for one).
func TestDirSizeFollowsALinkedDirectory(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "index-elsewhere")
	if err := os.MkdirAll(filepath.Join(real, "p0000"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"mxarchive.json": 100, "p0000/a.zap": 5000, "p0000/b.zap": 2500} {
		if err := os.WriteFile(filepath.Join(real, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "index")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if got := dirSize(real); got != 7600 {
		t.Errorf("the directory: %d bytes, want 7600", got)
	}
	if got := dirSize(link); got != 7600 {
		t.Errorf("the link to it: %d bytes, want 7600", got)
	}
	if got := dirSize(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("a missing directory: %d bytes, want 0", got)
	}
}
