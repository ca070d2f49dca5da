//go:build linux

package indexer

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of path held in the page cache.
func resident(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

// The index's files as their writer left them sit in the page cache in
// large folios, and Linux maps a whole folio (up to 2 MiB) into a process
// that touches one byte of it: a 3M index written just before archive-web
// started had 186 MiB of it mapped after opening, 539 after four
// searches; the same files read back from disk, 25 and 159. archive-web
// drops them from the page cache before it opens them.
func TestDropIndexFromPageCache(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type == unix.TMPFS_MAGIC {
		t.Skip("the temporary directory is in memory (tmpfs): nothing to drop")
	}
	seg := filepath.Join(dir, "p0000", "store", "000000000001.zap")
	if err := os.MkdirAll(filepath.Dir(seg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(seg); err == nil {
		f.Sync() // only clean pages can be dropped
		f.Close()
	}
	if resident(t, seg) == 0 {
		t.Skip("the file just written is not in the page cache")
	}
	if err := DropFromPageCache(dir); err != nil {
		t.Fatal(err)
	}
	if n := resident(t, seg); n > 0 {
		t.Errorf("%d pages of the index's file still in the page cache", n)
	}
	if err := DropFromPageCache(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing index: %v", err)
	}
}
