package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/s3test"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// With media.s3 configured, archive-web serves the media from the bucket
// the archiver stored them in, and looks for no media directory (issue 19:
// media beyond one disk).
func TestMediaFromS3(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	dataDir := t.TempDir()

	// What the archiver does: an Element export's image imported into the
	// bucket through media.Open.
	image := append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), bytes.Repeat([]byte{0x42}, 4000)...)
	zipPath := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	export, err := os.ReadFile("../../testdata/import/element-export.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"matrix - Homelab Automation - Chat Export - 2026-03-01T10-03-00.000Z.json": export,
		"images/rack-Fri, Feb 27 2026 at 19:22:43.jpg":                              image,
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err := store.Open(ctx, store.Config{Type: "sqlite"}, dataDir, storetest.Logger(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := media.Open(ctx, media.Options{Dir: filepath.Join(dataDir, "media"), S3: media.S3Config{Endpoint: srv.Endpoint, Bucket: srv.Bucket,
		Region: srv.Region, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, Prefix: "mx/", Insecure: true, TempDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ingest.New(st, storetest.Logger(t), "").ImportFile(ctx, zipPath, ingest.ImportOptions{AssumeWorldReadable: true, Media: blobs, MediaMaxSize: 1 << 20})
	if err != nil || rep.Media != 1 {
		t.Fatalf("import: %v, %d media stored", err, rep.Media)
	}
	rack := event.MXC{Server: "example.org", MediaID: "BRwBPHtaadrZGRFUUbdWbZZB"}
	m, err := st.MediaFor(ctx, rack)
	if err != nil || m.State != store.MediaReady {
		t.Fatalf("the image after the import: %+v %v", m, err)
	}
	st.Close()
	object := filepath.Join(srv.Root, srv.Bucket, "mx", m.SHA256[:2], m.SHA256[2:4], m.SHA256)
	if b, err := os.ReadFile(object); err != nil || !bytes.Equal(b, image) {
		t.Fatalf("the image is not the bucket's object %s: %v", object, err)
	}

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	conf := "data_dir: " + dataDir + "\nweb:\n  listen: 127.0.0.1:0\nsearch:\n  enabled: false\nmedia:\n  s3:\n    endpoint: " + srv.Endpoint +
		"\n    bucket: " + srv.Bucket + "\n    region: " + srv.Region + "\n    access_key: " + srv.AccessKey + "\n    prefix: mx/\n    use_ssl: false\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MXARCHIVE_MEDIA_S3_SECRET_KEY", srv.SecretKey)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() { done <- run(ctx, []string{"-c", cfg}, &stderr, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("archive-web stopped: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("archive-web did not start")
	}
	resp, err := http.Get("http://" + addr + web.MediaPath(rack.Server, rack.MediaID))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, image) {
		t.Errorf("GET the image = %d, %d bytes (want 200, the %d bytes stored)\n%s", resp.StatusCode, len(body), len(image), stderr.String())
	}
	// Nothing was put in, or read from, a media directory.
	if _, err := os.Stat(filepath.Join(dataDir, "media")); !os.IsNotExist(err) {
		filepath.WalkDir(filepath.Join(dataDir, "media"), func(p string, d fs.DirEntry, err error) error {
			t.Errorf("media directory used beside the bucket: %s", p)
			return nil
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("archive-web: %v", err)
	}
}
