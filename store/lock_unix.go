//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockFile takes an exclusive flock on path and writes this process's ID
// into it, so the refusal can name the archiver that holds it.
func lockFile(path string) (*ArchiverLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("take the archiver lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := ""
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
					holder = fmt.Sprintf("process %d holds ", pid)
				}
			}
			return nil, fmt.Errorf("%w (%s%s; stop that archiver first)", ErrArchiverRunning, holder, path)
		}
		return nil, fmt.Errorf("take the archiver lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &ArchiverLock{release: func() error {
		// The file stays: removing it would let a third process lock a new
		// file while a second still waits on the old one's inode.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return fmt.Errorf("release the archiver lock: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("release the archiver lock: %w", err)
		}
		return nil
	}}, nil
}
