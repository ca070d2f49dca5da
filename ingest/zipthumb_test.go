package ingest_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// An attachment imported from an Element export gets the thumbnail the
// fetcher would have made (media.StoreThumbnail). Only the fetcher made
// thumbnails, so a 2000×1500 photo imported from a ZIP never got one, and
// every page showing it loaded the whole photo through /thumbnail.
func TestZipAttachmentGetsTheFetchersThumbnail(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2000, 1500))
	rng := rand.New(rand.NewSource(1))
	for y := range 1500 {
		for x := range 2000 {
			img.Set(x, y, color.RGBA{uint8(rng.Intn(256)), uint8(rng.Intn(256)), uint8(rng.Intn(256)), 255})
		}
	}
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	if photo.Len() <= media.ThumbnailAbove {
		t.Fatalf("fixture only %d bytes", photo.Len())
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		blobs, err := media.OpenDir(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		zipPath := elementZip(t, map[string][]byte{"images/rack-Fri, Feb 27 2026 at 19:22:43.jpg": photo.Bytes()})
		rep, err := in.ImportFile(ctx, zipPath, ingest.ImportOptions{AssumeWorldReadable: true, Media: blobs, MediaMaxSize: 50 << 20})
		if err != nil || rep.Media != 1 {
			t.Fatalf("import: %s %v %v", rep, err, rep.MediaErrors)
		}
		m, err := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "BRwBPHtaadrZGRFUUbdWbZZB"})
		if err != nil {
			t.Fatal(err)
		}
		if m.State != store.MediaReady || m.ThumbSHA256 == "" || m.ThumbType != "image/jpeg" {
			t.Fatalf("imported photo: state %d, %d bytes, thumbnail %q %q; want a JPEG thumbnail", m.State, m.Size, m.ThumbSHA256, m.ThumbType)
		}
		th, err := blobs.Open(ctx, m.ThumbSHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer th.Close()
		if cfg, _, err := image.DecodeConfig(th); err != nil || cfg.Width != 800 || cfg.Height != 600 {
			t.Errorf("thumbnail %d×%d, %v; want 800×600", cfg.Width, cfg.Height, err)
		}
	})
}
