// Package s3test starts an S3-compatible server (versitygw, built by
// scripts/build-versitygw.sh and cached) on loopback for tests outside
// package media, which has its own copy for its internal tests.
package s3test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvBin names a versitygw binary to use instead of building one.
const EnvBin = "MXARCHIVE_VERSITYGW_BIN"

var (
	binOnce sync.Once
	bin     string
	binErr  error
)

// Server is a running versitygw with one empty bucket. Its objects are
// files under Root/Bucket (the posix backend), for tests to look at.
type Server struct {
	Endpoint, Bucket, Region, AccessKey, SecretKey string
	Root                                           string
}

func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if b := os.Getenv(EnvBin); b != "" {
			bin = b
			return
		}
		_, file, _, _ := runtime.Caller(0)
		script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "build-versitygw.sh")
		var stderr bytes.Buffer
		cmd := exec.Command("bash", script)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("%s: %v\n%s", script, err, stderr.String())
			return
		}
		bin = strings.TrimSpace(string(out))
	})
	if binErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no S3 server: %v", binErr)
		}
		t.Skipf("no S3 server (set CI=true to make this a failure): %v", binErr)
	}
	return bin
}

// Start starts versitygw on a free loopback port with a bucket "archive",
// stopped when the test ends. Without the binary the test is skipped, or
// fails under CI=true.
func Start(t testing.TB) Server {
	t.Helper()
	s := StartWithoutBucket(t)
	s.CreateBucket(t)
	return s
}

// CreateBucket makes the bucket, as an operator would before using it.
func (s Server) CreateBucket(t testing.TB) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(s.Root, s.Bucket), 0o750); err != nil {
		t.Fatal(err)
	}
}

// StartWithoutBucket is Start before the bucket exists, for tests of what
// a missing bucket does.
func StartWithoutBucket(t testing.TB) Server {
	t.Helper()
	b := binary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := Server{Endpoint: addr, Bucket: "archive", Region: "us-east-1", AccessKey: "mxarchive-test", SecretKey: "mxarchive-test-secret", Root: t.TempDir()}
	var logs bytes.Buffer
	cmd := exec.Command(b, "--access", s.AccessKey, "--secret", s.SecretKey, "--region", s.Region, "--port", addr, "--quiet",
		"posix", "--sidecar", t.TempDir(), s.Root)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// The server must not outlive a test binary that is killed.
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
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s: %s", addr, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
