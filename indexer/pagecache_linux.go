package indexer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // merged away meanwhile
		}
		if err != nil {
			return err
		}
		defer f.Close()
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
