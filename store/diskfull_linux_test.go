package store_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// archive-web failing to start on a full disk said only "disk I/O error
// (4874)": SQLite's failure to extend the shared-memory file of the WAL,
// which it does not report as a full disk. Open says the disk is full and
// names the directory. The full disk is a small tmpfs, which only a
// process allowed to mount one (root in a container) can make: elsewhere
// the test is skipped.
func TestOpenOnAFullDiskSaysSo(t *testing.T) {
	ctx := context.Background()
	archive := t.TempDir()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, archive, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	fi, err := os.Stat(filepath.Join(archive, "mxarchive.db"))
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	size := fi.Size() + 32<<10
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dataDir := filepath.Join(mnt, "data")
	if err := os.Mkdir(dataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(archive, "mxarchive.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, "mxarchive.db"), db, 0o600); err != nil {
		t.Fatal(err)
	}
	// Fill what is left.
	fill, err := os.Create(filepath.Join(mnt, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(fill, zeros{}); err == nil {
		t.Fatal("filled a tmpfs without end")
	}
	fill.Close()

	st, err = store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{ReadMostly: true, MustExist: true})
	if err == nil {
		st.Close()
		t.Fatal("opened an archive on a full disk")
	}
	if !strings.Contains(err.Error(), "the disk holding "+dataDir+" is full") {
		t.Errorf("error = %v, want it to say the disk holding %s is full", err, dataDir)
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, ".mxarchive-space-*")); len(left) != 0 {
		t.Errorf("the look for space left %v behind", left)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
