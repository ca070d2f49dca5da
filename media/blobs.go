package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrTooLarge is returned by Put when the content exceeds its limit; nothing
// is kept.
var ErrTooLarge = errors.New("media larger than the configured limit")

// ErrNotFound: no blob with that hash.
var ErrNotFound = errors.New("media blob not found")

// Blob describes stored bytes.
type Blob struct {
	Hash string // lower-case hex SHA-256 of the bytes
	Size int64
}

// File is an open blob: what http.ServeContent needs.
type File interface {
	io.ReadSeeker
	io.Closer
	ModTime() time.Time
}

// Blobs stores content-addressed bytes. Implementations must make Put
// atomic (a reader never sees a partial blob) and idempotent (the same
// bytes twice are one blob).
type Blobs interface {
	// Put stores r's bytes, reading at most max bytes (max <= 0: no limit);
	// more is ErrTooLarge and nothing is kept.
	Put(ctx context.Context, r io.Reader, max int64) (Blob, error)
	Open(ctx context.Context, hash string) (File, error)
	// Delete removes a blob; deleting a missing blob is not an error.
	Delete(ctx context.Context, hash string) error
}

// Dir keeps blobs as files under a directory: <dir>/ab/cd/<hash>.
type Dir struct {
	root string
}

// staleTemp is the age past which a temporary file is a process's leftover
// (killed mid-download): a live download writes to its file continuously
// and gives up after 15 minutes.
const staleTemp = time.Hour

// OpenDir returns the blob directory root, creating it if needed, and
// removes temporary files that killed processes left behind.
func OpenDir(root string) (*Dir, error) {
	tmp := filepath.Join(root, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("media directory: %w", err)
	}
	if err := removeStale(tmp, ""); err != nil {
		return nil, fmt.Errorf("media directory: %w", err)
	}
	return &Dir{root: root}, nil
}

// removeStale removes the files of dir whose names begin with prefix and
// that nothing has written for staleTemp: temporary files a killed process
// left behind.
func removeStale(dir, prefix string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || e.IsDir() {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTemp {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// ReadDir returns the blob directory root for reading only (archive-web):
// nothing is created, so it works on a read-only mount.
func ReadDir(root string) *Dir { return &Dir{root: root} }

// validHash admits only what Put produces, so a hash from the database can
// never name a path outside the directory.
func validHash(h string) bool {
	if len(h) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (d *Dir) path(hash string) string {
	return filepath.Join(d.root, hash[:2], hash[2:4], hash)
}

// Path returns where a blob lives (tests and operators).
func (d *Dir) Path(hash string) string { return d.path(hash) }

// ctxReader stops a copy when its context ends: a download the archiver
// abandons must not keep writing.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put writes to a temporary file while hashing, then renames it into place:
// a crash leaves at most a temporary file, never a truncated blob.
func (d *Dir) Put(ctx context.Context, r io.Reader, max int64) (Blob, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return Blob{}, fmt.Errorf("media temp file: %w", err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	b, err := spool(ctx, tmp, r, max)
	if err != nil {
		return Blob{}, err
	}
	if err := tmp.Sync(); err != nil {
		return Blob{}, fmt.Errorf("media sync: %w", err)
	}
	// As readable as the directories that hold it (0750): CreateTemp's
	// 0600 left archive-web, run as another user of the archiver's group,
	// able to list every media directory and to read no file in them.
	if err := tmp.Chmod(0o640); err != nil {
		return Blob{}, fmt.Errorf("media chmod: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return Blob{}, fmt.Errorf("media close: %w", err)
	}
	dst := d.path(b.Hash)
	if _, err := os.Stat(dst); err == nil {
		return b, nil // the same bytes are already here
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return Blob{}, fmt.Errorf("media directory: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Blob{}, fmt.Errorf("media rename: %w", err)
	}
	return b, nil
}

// spool copies r into tmp while hashing it, refusing more than max bytes
// (0: no limit) with ErrTooLarge: the blob every backend keys by its hash.
func spool(ctx context.Context, tmp *os.File, r io.Reader, max int64) (Blob, error) {
	h := sha256.New()
	src := io.Reader(ctxReader{ctx, r})
	if max > 0 {
		// One byte past the limit tells "exactly max" from "more".
		src = io.LimitReader(src, max+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return Blob{}, fmt.Errorf("media write: %w", err)
	}
	if max > 0 && n > max {
		return Blob{}, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
	}
	return Blob{Hash: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

type osFile struct {
	*os.File
	mod time.Time
}

func (f osFile) ModTime() time.Time { return f.mod }

// Open opens a blob for reading.
func (d *Dir) Open(_ context.Context, hash string) (File, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("%w: invalid hash %q", ErrNotFound, hash)
	}
	f, err := os.Open(d.path(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, hash)
	}
	if err != nil {
		return nil, fmt.Errorf("media open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("media stat: %w", err)
	}
	return osFile{f, st.ModTime()}, nil
}

// Delete removes a blob's file.
func (d *Dir) Delete(_ context.Context, hash string) error {
	if !validHash(hash) {
		return fmt.Errorf("media delete: invalid hash %q", hash)
	}
	if err := os.Remove(d.path(hash)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("media delete: %w", err)
	}
	return nil
}

// Options say where the media store is: the bucket S3 names when its
// Bucket is set, else the directory Dir.
type Options struct {
	Dir string
	// ReadOnly opens the directory without creating anything, so that it
	// works on a read-only mount (archive-web). A bucket is the same either
	// way.
	ReadOnly bool
	S3       S3Config
}

// Open returns the media store o names. Both programs open it here, so
// that they always agree on where the bytes are.
func Open(ctx context.Context, o Options) (Blobs, error) {
	if o.S3.Bucket != "" {
		return OpenS3(ctx, o.S3)
	}
	if o.ReadOnly {
		// The directory is the archiver's, and a reader creates nothing:
		// one that is not there is a mistake (a typo, the archiver's
		// volume not mounted on this host), refused here as a missing
		// bucket is. Opened without a look, every stored file was a 404
		// with a warning per request while /readyz said ready.
		if err := isDir(o.Dir); err != nil {
			return nil, err
		}
		return ReadDir(o.Dir), nil
	}
	return OpenDir(o.Dir)
}

// isDir checks that the read-only media directory dir is there.
func isDir(dir string) error {
	const key = "media.dir, by default data_dir/media"
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("media directory %s (%s) does not exist: the archiver creates it when it starts with media enabled; "+
			"on another machine, mount the archiver's there; or set media.enabled: false if the archive keeps no media", dir, key)
	case err != nil:
		return fmt.Errorf("media directory %s (%s): %w", dir, key, err)
	case !fi.IsDir():
		return fmt.Errorf("media directory %s (%s) is not a directory", dir, key)
	}
	return nil
}
