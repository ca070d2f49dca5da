package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// EnvS3Bin names a versitygw binary to use instead of building one.
const envS3Bin = "MXARCHIVE_VERSITYGW_BIN"

var (
	s3BinOnce sync.Once
	s3Bin     string
	s3BinErr  error
)

// versitygw returns the S3 server binary, built by
// scripts/build-versitygw.sh on first use (then cached under
// ~/.cache/mxarchive). Without it the test is skipped, or fails under
// CI=true.
func versitygw(t *testing.T) string {
	t.Helper()
	s3BinOnce.Do(func() {
		if bin := os.Getenv(envS3Bin); bin != "" {
			s3Bin = bin
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(filepath.Dir(file)), "scripts", "build-versitygw.sh")
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			s3BinErr = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		s3Bin = strings.TrimSpace(string(out))
	})
	if s3BinErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no S3 server: %v", s3BinErr)
		}
		t.Skipf("no S3 server (set CI=true to make this a failure): %v", s3BinErr)
	}
	return s3Bin
}

// startS3 starts versitygw on loopback over a fresh directory and returns
// a config for a new bucket on it.
func startS3(t *testing.T) S3Config {
	t.Helper()
	bin := versitygw(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	root := t.TempDir()
	cfg := S3Config{Endpoint: addr, Bucket: "archive", Region: "us-east-1", AccessKey: "mxarchive-test", SecretKey: "mxarchive-test-secret",
		Prefix: "media/", Insecure: true, TempDir: t.TempDir()}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--access", cfg.AccessKey, "--secret", cfg.SecretKey, "--region", cfg.Region, "--port", addr, "--quiet",
		"posix", "--sidecar", t.TempDir(), root)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s: %s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// OpenS3 refuses a missing bucket; make it as an operator would.
	if _, err := OpenS3(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("OpenS3 without the bucket: %v", err)
	}
	if err := os.Mkdir(filepath.Join(root, cfg.Bucket), 0o750); err != nil {
		t.Fatal(err)
	}
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
