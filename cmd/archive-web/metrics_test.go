package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// archive-web serves its metrics on metrics.listen, and not on the public
// port; a page request moves the request histogram.
func TestMetricsListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	addr, stop := startWeb(t, newArchive(t), "web:\n  listen: 127.0.0.1:0\nmetrics:\n  listen: "+metricsAddr+"\nsearch:\n  enabled: false\n")
	if code, _ := get(t, "http://"+addr+"/"); code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	code, body := get(t, "http://"+metricsAddr+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, `mxarchive_web_request_duration_seconds_count{code="2xx",route="/"} 1`) ||
		!strings.Contains(body, "mxarchive_web_db_open_connections") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("metrics = %d:\n%s", code, body)
	}
	if code, body := get(t, "http://"+addr+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "mxarchive_web_") {
		t.Errorf("the public port serves metrics: %d", code)
	}
	stop()
}

// startWeb runs archive-web on dataDir with the configuration conf (YAML
// after data_dir) and returns its address and a stop that waits for it.
func startWeb(t *testing.T, dataDir, conf string) (addr string, stop func()) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dataDir+"\n"+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"-c", cfg}, &stderr, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("archive-web stopped: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("archive-web did not start")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("archive-web: %v", err)
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// get is a GET of url: its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
