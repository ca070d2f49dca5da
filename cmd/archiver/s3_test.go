package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/s3test"
)

// With media.s3 configured (the secret from the environment), the archiver
// stores media in the bucket, not in the media directory: here an Element
// export's image, through `archiver import`. A bucket that does not exist
// stops the command at once with a message naming it.
func TestImportMediaIntoS3(t *testing.T) {
	srv := s3test.Start(t)
	dataDir := t.TempDir()
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
	for k, v := range map[string]string{
		"MXARCHIVE_DATA_DIR": dataDir, "MXARCHIVE_MEDIA_S3_ENDPOINT": srv.Endpoint, "MXARCHIVE_MEDIA_S3_BUCKET": srv.Bucket,
		"MXARCHIVE_MEDIA_S3_REGION": srv.Region, "MXARCHIVE_MEDIA_S3_ACCESS_KEY": srv.AccessKey,
		"MXARCHIVE_MEDIA_S3_SECRET_KEY": srv.SecretKey, "MXARCHIVE_MEDIA_S3_PREFIX": "mx/", "MXARCHIVE_MEDIA_S3_USE_SSL": "false",
	} {
		t.Setenv(k, v)
	}
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"import", "--assume-world-readable", zipPath}, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	var objects []string
	filepath.WalkDir(filepath.Join(srv.Root, srv.Bucket), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			objects = append(objects, p)
		}
		return nil
	})
	if len(objects) != 1 || !strings.Contains(objects[0], string(filepath.Separator)+"mx"+string(filepath.Separator)) {
		t.Fatalf("objects in the bucket: %v\n%s\n%s", objects, out.String(), errs.String())
	}
	if b, err := os.ReadFile(objects[0]); err != nil || !bytes.Equal(b, image) {
		t.Errorf("the object is not the image: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "media")); !os.IsNotExist(err) {
		t.Errorf("a media directory was made beside the bucket: %v", err)
	}

	t.Setenv("MXARCHIVE_MEDIA_S3_BUCKET", "no-such-bucket")
	err = run(context.Background(), []string{"import", "--assume-world-readable", zipPath}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "no-such-bucket") || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("import into a missing bucket: %v", err)
	}
}
