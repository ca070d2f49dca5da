package indexer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DropFromPageCache asks the kernel to drop the clean pages of every file
// under dir (the search index) from the page cache. Bleve maps its
// segment files, and Linux maps a whole large folio (up to 2 MiB) into a
// process that touches one byte of it; files as their writer left them
// sit in large folios, so every field's start a search or an open reads
// cost up to 2 MiB of resident memory (a 3M index written just before:
// 186 MiB mapped after opening, 539 after four relevance searches).
// Read back from disk by page faults, they come in small folios (25 and
// 159 MiB, the searches as fast). Pages another process has mapped stay.
// A missing dir is no error: the index is built later.
func DropFromPageCache(dir string) error {
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		return dropFile(path)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// dropFile drops a file's clean pages, those no process maps, from the
// page cache. A missing file is no error: merged away meanwhile.
func dropFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// releaseMapped hands back to the kernel the pages of the files (Bleve's
// segment files) this process has mapped: MADV_DONTNEED on every mapping
// of them (/proc/self/maps), then FADV_DONTNEED, so that the next touch
// reads them back in small folios (DropFromPageCache says why). Their
// contents stay: a read after it faults them in again. The caller keeps
// the files mapped while it runs (holds their segments): an address range
// unmapped meanwhile and mapped again for something else would lose what
// that holds.
func releaseMapped(files []string) error {
	if len(files) == 0 {
		return nil
	}
	want := make(map[string]bool, len(files))
	for _, f := range files {
		// The kernel names a mapped file by its absolute path, links
		// resolved.
		if abs, err := filepath.Abs(f); err == nil {
			f = abs
		}
		if real, err := filepath.EvalSymlinks(f); err == nil {
			f = real
		}
		want[f] = true
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return err
	}
	for _, m := range mappings(maps) {
		if !want[m.path] {
			continue
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise %s: %w", m.path, errno)
		}
	}
	for f := range want {
		if err := dropFile(f); err != nil {
			return err
		}
	}
	return nil
}

// fileMap is one line of /proc/self/maps naming a file.
type fileMap struct {
	start, end uintptr
	path       string
}

// mappings reads the file mappings of /proc/self/maps: "start-end perms
// offset dev inode path", the path last and possibly holding spaces, with
// " (deleted)" after it once the file is removed.
func mappings(maps []byte) []fileMap {
	var ms []fileMap
	for line := range strings.Lines(string(maps)) {
		line = strings.TrimSuffix(line, "\n")
		rest := line
		var fields [5]string
		ok := true
		for i := range fields {
			rest = strings.TrimLeft(rest, " ")
			var found bool
			fields[i], rest, found = strings.Cut(rest, " ")
			if !found {
				ok = false
				break
			}
		}
		path := strings.TrimSuffix(strings.TrimLeft(rest, " "), " (deleted)")
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		lo, hi, found := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !found || err1 != nil || err2 != nil || end <= start {
			continue
		}
		ms = append(ms, fileMap{uintptr(start), uintptr(end), path})
	}
	return ms
}
