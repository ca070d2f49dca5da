package media

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// archive-web opens the archiver's media directory read-only. One that is
// not there (the archiver's volume not mounted on archive-web's host, a
// typo in media.dir) or that is a file is refused at the start with a
// message naming it and the setting, as a missing S3 bucket is. Before,
// it was accepted without a word: archive-web said ready, and every
// stored file was a 404 with a warning per request. Nothing is created.
func TestReadOnlyOpenRefusesAMissingMediaDir(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "not-mounted", "media")
	file := filepath.Join(t.TempDir(), "media")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"missing", missing, "does not exist"},
		{"a file", file, "is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Open(context.Background(), Options{Dir: tc.dir, ReadOnly: true})
			if err == nil {
				t.Fatalf("a read-only media store on %s opened: %T", tc.dir, b)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.dir) || !strings.Contains(msg, "media.dir") || !strings.Contains(msg, tc.want) {
				t.Errorf("error = %q, want it to name %s and media.dir and say %q", msg, tc.dir, tc.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("the read-only open created %s (%v)", filepath.Dir(missing), err)
	}
}

// The directory the archiver made opens read-only, and creates nothing
// in it (a read-only mount).
func TestReadOnlyOpenServesTheArchiversDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "media")
	w, err := Open(context.Background(), Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := w.Put(context.Background(), strings.NewReader("bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "tmp")); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), Options{Dir: root, ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open of the archiver's directory: %v", err)
	}
	f, err := r.Open(context.Background(), blob.Hash)
	if err != nil {
		t.Fatalf("reading a stored file: %v", err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "tmp")); !os.IsNotExist(err) {
		t.Errorf("the read-only open created %s/tmp (%v)", root, err)
	}
}
