//go:build linux

package indexer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// ResidentKB is residentKB, for the package's outside tests.
func ResidentKB(t *testing.T, dir string) (kb int, mapped bool) { return residentKB(t, dir) }

// residentKB sums the resident kilobytes of this process's mappings of
// segment files (.zap) under dir (/proc/self/smaps), and says whether any
// is mapped. (Bleve maps its root.bolt too, a few pages.)
func residentKB(t *testing.T, dir string) (kb int, mapped bool) {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && !strings.HasSuffix(f[0], ":") { // a mapping's first line
			m := mappings([]byte(line))
			in = len(m) == 1 && strings.HasPrefix(m[0].path, dir+string(filepath.Separator)) && strings.HasSuffix(m[0].path, ".zap")
			mapped = mapped || in
			continue
		}
		if in && len(f) == 3 && f[0] == "Rss:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			kb += n
		}
	}
	return kb, mapped
}

// releaseMapped takes a mapped file's pages out of the process, found by
// any path to it (here through a link), and what the mapping reads after
// it is still the file's.
func TestReleaseMapped(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "p0000", "000000000001.zap")
	if err := os.MkdirAll(filepath.Dir(seg), 0o700); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4<<20)
	for i := range want {
		want[i] = byte(i / 4096)
	}
	if err := os.WriteFile(seg, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if !bytes.Equal(m, want) {
		t.Fatal("the mapping reads other bytes than the file's")
	}
	if kb, mapped := residentKB(t, dir); !mapped || kb < 4<<10 {
		t.Fatalf("the file read through its mapping: %d KiB resident (mapped %v), want 4 MiB", kb, mapped)
	}
	link := filepath.Join(t.TempDir(), "index")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if err := releaseMapped([]string{filepath.Join(link, "p0000", "000000000001.zap"), filepath.Join(link, "gone.zap")}); err != nil {
		t.Fatal(err)
	}
	if kb, mapped := residentKB(t, dir); !mapped || kb != 0 {
		t.Errorf("after releaseMapped: %d KiB of the file resident (mapped %v), want none", kb, mapped)
	}
	if !bytes.Equal(m, want) {
		t.Error("the mapping reads other bytes after releaseMapped")
	}
}

// The lines of /proc/self/maps that name a file, whatever the path holds.
func TestMappings(t *testing.T) {
	maps := "55d0c0a00000-55d0c0a21000 r--p 00000000 fd:01 1234                       /usr/bin/archive-web\n" +
		"7f3a10000000-7f3a10021000 rw-p 00000000 00:00 0 \n" +
		"7f3a20000000-7f3a20400000 r--s 00000000 fd:01 99   /data/my index/p0001/00000000000a.zap\n" +
		"7f3a30000000-7f3a30001000 r--s 00000000 fd:01 98   /data/index/p0002/000000000002.zap (deleted)\n" +
		"7ffd5a9e0000-7ffd5aa01000 rw-p 00000000 00:00 0                          [stack]\n" +
		"zzzz-7f3a30001000 r--s 00000000 fd:01 98   /bad/start\n" +
		"7f3a30001000 r--s 00000000 fd:01 98   /no/end\n" +
		"7f3a40000000-7f3a40001000 r--s 00000000 fd:01 97   /last/without/newline"
	var got []string
	for _, m := range mappings([]byte(maps)) {
		got = append(got, fmt.Sprintf("%x-%x %s", m.start, m.end, m.path))
	}
	want := []string{
		"55d0c0a00000-55d0c0a21000 /usr/bin/archive-web",
		"7f3a20000000-7f3a20400000 /data/my index/p0001/00000000000a.zap",
		"7f3a30000000-7f3a30001000 /data/index/p0002/000000000002.zap",
		"7f3a40000000-7f3a40001000 /last/without/newline",
	}
	if !slices.Equal(got, want) {
		t.Errorf("mappings =\n%q\nwant\n%q", got, want)
	}
}
