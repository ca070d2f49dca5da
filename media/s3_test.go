package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mxarchive/mxarchive/internal/s3test"
)

// startS3 starts versitygw on loopback over a fresh directory and returns
// a config for a new bucket on it.
func startS3(t *testing.T) S3Config {
	t.Helper()
	srv := s3test.StartWithoutBucket(t)
	cfg := S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		Prefix: "media/", Insecure: true, TempDir: t.TempDir()}
	// OpenS3 refuses a missing bucket; make it as an operator would.
	if _, err := OpenS3(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("OpenS3 without the bucket: %v", err)
	}
	srv.CreateBucket(t)
	return cfg
}

// TestS3Blobs runs the Blobs contract against a real S3 server: the same
// bytes are one object, reads seek (http.ServeContent asks for ranges),
// deletes are idempotent and leave other blobs, the size limit keeps
// nothing, and a hash from anywhere but Put names no key.
func TestS3Blobs(t *testing.T) {
	ctx := context.Background()
	cfg := startS3(t)
	s, err := OpenS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Put(ctx, strings.NewReader("same bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Put(ctx, strings.NewReader("same bytes"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.Size != 10 {
		t.Fatalf("same bytes stored as %v and %v", a, b)
	}
	c, err := s.Put(ctx, strings.NewReader("other bytes, longer"), 0)
	if err != nil || c.Hash == a.Hash {
		t.Fatalf("other bytes: %v, %v", c, err)
	}
	if n := countObjects(t, s); n != 2 {
		t.Fatalf("%d objects in the bucket, want 2", n)
	}

	f, err := s.Open(ctx, c.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if f.ModTime().IsZero() || time.Since(f.ModTime()) > time.Minute {
		t.Errorf("ModTime = %v", f.ModTime())
	}
	// As http.ServeContent serves a Range request.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Range", "bytes=6-10")
	http.ServeContent(rec, req, "", f.ModTime(), f)
	f.Close()
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "bytes" {
		t.Errorf("range read = %d %q, want 206 \"bytes\"", rec.Code, rec.Body.String())
	}

	if err := s.Delete(ctx, a.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, a.Hash); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, a.Hash); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if f, err := s.Open(ctx, c.Hash); err != nil {
		t.Fatalf("the other blob went too: %v", err)
	} else {
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != "other bytes, longer" {
			t.Fatalf("read back %q", got)
		}
	}
	for _, h := range []string{"../../etc/passwd", strings.Repeat("A", 64), ""} {
		if _, err := s.Open(ctx, h); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v", h, err)
		}
		if err := s.Delete(ctx, h); err == nil {
			t.Errorf("Delete(%q) accepted", h)
		}
	}

	// The size limit: nothing kept, neither in the bucket nor on disk.
	if _, err := s.Put(ctx, bytes.NewReader(make([]byte, 101)), 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("101 bytes under a 100-byte limit: %v", err)
	}
	if _, err := s.Put(ctx, endless{}, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless source: %v", err)
	}
	if got, err := s.Put(ctx, bytes.NewReader(make([]byte, 100)), 100); err != nil || got.Size != 100 {
		t.Fatalf("exactly the limit: %v %v", got, err)
	}
	if n := countObjects(t, s); n != 2 {
		t.Errorf("%d objects after the refused puts, want 2", n)
	}
	if tmp, _ := os.ReadDir(cfg.TempDir); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func countObjects(t *testing.T, s *S3) int {
	t.Helper()
	n := 0
	for obj := range s.client.ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if !strings.HasPrefix(obj.Key, s.prefix) {
			t.Errorf("object %s outside the prefix", obj.Key)
		}
		n++
	}
	return n
}

// A download S3.Put spools beside the database (TempDir) while it hashes
// it, up to media.max_size, is left there when the archiver is killed
// meanwhile (the OOM killer, systemd's SIGKILL): the next OpenS3 removes
// it once it is old enough not to be a download in progress, and leaves
// every other file of the directory (it is data_dir, the database's).
func TestOpenS3RemovesStaleDownloads(t *testing.T) {
	// A bucket that exists: every request answered 200.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	stale, fresh, other := dir+"/"+s3TempPrefix+"123", dir+"/"+s3TempPrefix+"456", dir+"/mxarchive.db"
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("bytes"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	for _, p := range []string{stale, other} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	cfg := S3Config{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: "media", Region: "us-east-1", AccessKey: "a", SecretKey: "s",
		Insecure: true, TempDir: dir}
	if _, err := OpenS3(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a killed archiver's download spooled for the bucket, %v old, is still in data_dir after OpenS3 (%v): want it removed", 2*staleTemp, err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
}
