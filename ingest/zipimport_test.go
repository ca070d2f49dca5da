package ingest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// rackJPEG stands in for the export's rack.jpg: JPEG magic, then filler.
var rackJPEG = append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), bytes.Repeat([]byte{0x42}, 4000)...)

// elementZip writes an Element "Export chat" ZIP as Element lays it out:
// the JSON at the top, attachments under images/ named
// "{name}-{date}{ext}" (the date in the exporter's locale), here with a
// decoy beside the real one.
func elementZip(t *testing.T, files map[string][]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	json, err := os.ReadFile("../testdata/import/element-export.json")
	if err != nil {
		t.Fatal(err)
	}
	add := func(name string, b []byte) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	add("matrix - Homelab Automation - Chat Export - 2026-03-01T10-03-00.000Z.json", json)
	for name, b := range files {
		add(name, b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func TestElementZipExport(t *testing.T) {
	rack := event.MXC{Server: "example.org", MediaID: "BRwBPHtaadrZGRFUUbdWbZZB"}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		blobs, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		zipPath := elementZip(t, map[string][]byte{
			"images/rackmount-Fri, Feb 27 2026 at 19:22:43.jpg": []byte("decoy: another image's name begins like it"),
			"images/rack-Fri, Feb 27 2026 at 19:22:43.jpg":      rackJPEG,
			"files/notes-Fri, Feb 27 2026 at 19:30:00.txt":      []byte("no message refers to this"),
		})
		rep, err := in.ImportFile(ctx, zipPath, ingest.ImportOptions{AssumeWorldReadable: true, Media: blobs, MediaMaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Format != ingest.FormatElement || rep.Stored == 0 || rep.Media != 1 || len(rep.MediaErrors) != 0 || rep.File != zipPath {
			t.Fatalf("report: %s (media %d, errors %v)", rep, rep.Media, rep.MediaErrors)
		}
		m, err := st.MediaFor(ctx, rack)
		if err != nil || m.State != store.MediaReady || m.ContentType != "image/jpeg" || m.Size != int64(len(rackJPEG)) {
			t.Fatalf("rack.jpg after the import: %+v %v", m, err)
		}
		f, err := blobs.Open(ctx, m.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		// Importing again stores nothing twice.
		rep, err = in.ImportFile(ctx, zipPath, ingest.ImportOptions{AssumeWorldReadable: true, Media: blobs, MediaMaxSize: 1 << 20})
		if err != nil || rep.Media != 0 {
			t.Fatalf("second import: %s, %v", rep, err)
		}
	})
}

// An attachment past media.max_size (a ZIP bomb decompresses to anything)
// is refused at the bound and reported; the messages are imported anyway.
// Without vouching, the room is not public and no attachment is kept.
func TestElementZipBounds(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	in := ingest.New(st, storetest.Logger(t), "")
	blobs, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	zipPath := elementZip(t, map[string][]byte{"images/rack-Fri, Feb 27 2026 at 19:22:43.jpg": rackJPEG})
	rep, err := in.ImportFile(ctx, zipPath, ingest.ImportOptions{Media: blobs, MediaMaxSize: 1 << 20})
	if err != nil || rep.Media != 0 || rep.NotPublic == 0 {
		t.Fatalf("unvouched import: %s, %v", rep, err)
	}
	rep, err = in.ImportFile(ctx, zipPath, ingest.ImportOptions{AssumeWorldReadable: true, Media: blobs, MediaMaxSize: 1000})
	if err != nil || rep.Stored == 0 || rep.Media != 0 || len(rep.MediaErrors) != 1 {
		t.Fatalf("over the bound: %s, %v, %v", rep, err, rep.MediaErrors)
	}
	if m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "BRwBPHtaadrZGRFUUbdWbZZB"}); m.State != store.MediaPending {
		t.Fatalf("rack.jpg after a refused attachment: %+v", m)
	}
	// Two JSON files at the top: not an Element export.
	bad := filepath.Join(t.TempDir(), "two.zip")
	f, _ := os.Create(bad)
	zw := zip.NewWriter(f)
	zw.Create("a.json")
	zw.Create("b.json")
	zw.Close()
	f.Close()
	if _, err := in.ImportFile(ctx, bad, ingest.ImportOptions{}); err == nil {
		t.Fatal("a ZIP with two JSON files imported")
	}
}
