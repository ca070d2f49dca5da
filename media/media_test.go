package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDirDedupAndDelete(t *testing.T) {
	ctx := context.Background()
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Put(ctx, strings.NewReader("same bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Put(ctx, strings.NewReader("same bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Size != 10 {
		t.Fatalf("same bytes stored as %v and %v", a, b)
	}
	c, err := d.Put(ctx, strings.NewReader("other bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash == a.Hash {
		t.Fatal("different bytes share a hash")
	}
	f, err := d.Open(ctx, a.Hash)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if string(got) != "same bytes" {
		t.Fatalf("read back %q", got)
	}
	if err := d.Delete(ctx, a.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path(a.Hash)); !os.IsNotExist(err) {
		t.Fatalf("blob still on disk after Delete: %v", err)
	}
	if _, err := d.Open(ctx, a.Hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := d.Delete(ctx, a.Hash); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := d.Open(ctx, c.Hash); err != nil {
		t.Fatalf("the other blob went too: %v", err)
	}
	// A hash from anywhere but Put cannot name a path.
	for _, h := range []string{"../../etc/passwd", strings.Repeat("A", 64), ""} {
		if _, err := d.Open(ctx, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v", h, err)
		}
		if err := d.Delete(ctx, h); err == nil {
			t.Errorf("Delete(%q) accepted", h)
		}
	}
}

func TestDirSizeLimit(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, bytes.NewReader(make([]byte, 101)), 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("101 bytes under a 100-byte limit: %v", err)
	}
	b, err := d.Put(ctx, bytes.NewReader(make([]byte, 100)), 100)
	if err != nil || b.Size != 100 {
		t.Fatalf("exactly the limit: %v %v", b, err)
	}
	// An endless source is cut at the limit, not read to the end.
	if _, err := d.Put(ctx, endless{}, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless source: %v", err)
	}
	// Nothing of the refused writes is left behind.
	tmp, _ := os.ReadDir(root + "/tmp")
	if len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestSniff(t *testing.T) {
	var pngBuf bytes.Buffer
	png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 2, 2)))
	cases := []struct {
		name   string
		data   []byte
		want   string
		inline bool
	}{
		{"png", pngBuf.Bytes(), "image/png", true},
		{"jpeg", []byte("\xFF\xD8\xFF\xE0rest"), "image/jpeg", true},
		{"gif", []byte("GIF89a..."), "image/gif", true},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), "image/svg+xml", false},
		{"svg with prolog", []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "image/svg+xml", false},
		{"svg after comment", []byte("<!-- " + strings.Repeat("x", 100) + " --><svg onload=alert(1)>"), "image/svg+xml", false},
		{"html", []byte(`<html><script>alert(document.cookie)</script>`), "text/html; charset=utf-8", false},
		{"html named png", []byte(`<!DOCTYPE html><img src=x onerror=alert(1)>`), "text/html; charset=utf-8", false},
		{"text", []byte("just a log\n"), "text/plain; charset=utf-8", false},
		{"pdf", []byte("%PDF-1.7\n"), "application/pdf", false},
		{"mp3", []byte("ID3\x03\x00\x00\x00\x00\x00\x00"), "audio/mpeg", true},
		{"ogg", []byte("OggS\x00\x02"), "application/ogg", true},
		{"binary", []byte{0, 1, 2, 3}, "application/octet-stream", false},
	}
	for _, c := range cases {
		got := Sniff(c.data)
		if got != c.want {
			t.Errorf("%s: Sniff = %q, want %q", c.name, got, c.want)
		}
		if Inline(got) != c.inline {
			t.Errorf("%s: Inline(%q) = %v, want %v", c.name, got, !c.inline, c.inline)
		}
	}
}

// bombPNG is a valid PNG header claiming w×h pixels, followed by nothing
// that could be decoded: a decompression bomb's first bytes.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestThumbnailPixelBound(t *testing.T) {
	bomb := bombPNG(100000, 100000)
	if _, _, err := Thumbnail(bytes.NewReader(bomb), 320, 240, MaxPixels); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("a 10^10-pixel PNG: %v, want ErrTooManyPixels", err)
	}
	if _, _, err := CheckPixels(bytes.NewReader(bombPNG(1000, 1000)), 999_999); !errors.Is(err, ErrTooManyPixels) {
		t.Fatalf("one pixel over the bound: %v", err)
	}
	if _, _, err := CheckPixels(bytes.NewReader([]byte("not an image")), MaxPixels); err == nil {
		t.Fatal("garbage accepted as an image")
	}
	// A real image within the bound is scaled to fit, keeping its aspect.
	src := image.NewRGBA(image.Rect(0, 0, 1000, 500))
	for x := 0; x < 1000; x++ {
		src.Set(x, 10, color.RGBA{255, 0, 0, 255})
	}
	var buf bytes.Buffer
	png.Encode(&buf, src)
	out, ct, err := Thumbnail(bytes.NewReader(buf.Bytes()), 320, 240, MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil || ct != "image/png" {
		t.Fatalf("thumbnail %q: %v", ct, err)
	}
	if got := img.Bounds().Size(); got != (image.Point{320, 160}) {
		t.Fatalf("thumbnail size %v, want 320×160", got)
	}
}

// A killed process's temporary file is removed when the directory is next
// opened, once it is old enough not to be a download in progress.
func TestOpenDirRemovesStaleTemporaries(t *testing.T) {
	root := t.TempDir()
	if _, err := OpenDir(root); err != nil {
		t.Fatal(err)
	}
	stale, fresh := root+"/tmp/put-stale", root+"/tmp/put-fresh"
	os.WriteFile(stale, []byte("half a download"), 0o600)
	os.WriteFile(fresh, []byte("a download in progress"), 0o600)
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)
	if _, err := OpenDir(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary kept: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary removed: %v", err)
	}
}

// The media directories are group-readable (0750), and so is each file in
// them: archive-web, run as a user of its own in the archiver's group (as
// doc/deploy.md keeps it from writing the database), could list every
// media directory and read no file in them, every image of the archive
// failing, while CreateTemp's 0600 went with each file into place.
func TestMediaFilesAsReadableAsTheirDirectories(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Put(context.Background(), strings.NewReader("an image's bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.Stat(d.Path(b.Hash))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.Stat(filepath.Dir(d.Path(b.Hash)))
	if err != nil {
		t.Fatal(err)
	}
	if file.Mode().Perm() != 0o640 {
		t.Errorf("media directory %v, media file in it %v: want the file group-readable (0640), so that archive-web running as another user of the group can serve it",
			dir.Mode().Perm(), file.Mode().Perm())
	}
}
