package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"net/http/httptest"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// padPNG puts a private ancillary chunk of n bytes after a PNG's IHDR:
// every browser shows the image as before.
func padPNG(p []byte, n int) []byte {
	var c bytes.Buffer
	binary.Write(&c, binary.BigEndian, uint32(n))
	body := append([]byte("zzPd"), make([]byte, n)...)
	c.Write(body)
	binary.Write(&c, binary.BigEndian, crc32.ChecksumIEEE(body))
	at := 8 + 25 // signature, IHDR
	return append(append(bytes.Clone(p[:at]), c.Bytes()...), p[at:]...)
}

// lowQualityJPEG is a w×h noise JPEG at quality 60: over ThumbnailAbove
// at 800×800, and larger again when re-encoded at the thumbnail's
// quality.
func lowQualityJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 60}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Whether an image gets a thumbnail is decided on its bytes: a member's
// 32×32 icon padded to 40 MiB (under media.max_size) was skipped as
// "already page-sized", and /thumbnail, which every day page puts in an
// <img>, served the 40 MiB to each reader. An image over ThumbnailAbove
// bytes is now thumbnailed at its own size when it fits the box, and the
// thumbnail kept only when it is smaller than the image.
func TestImageOverThumbnailAboveGetsAThumbnailOnlyIfSmaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		icon := padPNG(noisePNG(t, 32, 32), 40<<20)
		dense := lowQualityJPEG(t, 800, 800)
		if len(dense) <= media.ThumbnailAbove {
			t.Fatalf("fixture: %d bytes", len(dense))
		}
		hs := &thumbnailer{homeserver: &homeserver{v1: true, files: map[string]string{
			"evil.org/icon": string(icon), "example.org/dense": string(dense),
		}}, thumbs: map[string]string{}}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		st.PutEvents(ctx, []store.Event{
			ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			ev(t, "$icon", "m.room.message", "@mallory:evil.org", 2001, nil, `{"msgtype":"m.image","body":"icon.png","url":"mxc://evil.org/icon"}`),
			ev(t, "$dense", "m.room.message", "@bob:example.org", 2002, nil, `{"msgtype":"m.image","body":"dense.jpg","url":"mxc://example.org/dense"}`),
		})
		blobs, _ := media.OpenDir(t.TempDir())
		f, _ := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		if _, err := f.Drain(ctx, "", nil); err != nil {
			t.Fatal(err)
		}
		m, _ := st.MediaFor(ctx, event.MXC{Server: "evil.org", MediaID: "icon"})
		if m.State != store.MediaReady || m.ThumbSHA256 == "" || m.ThumbType != "image/png" {
			t.Fatalf("padded icon: state %d, thumbnail %q %q; want a PNG thumbnail", m.State, m.ThumbSHA256, m.ThumbType)
		}
		th, err := blobs.Open(ctx, m.ThumbSHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer th.Close()
		cfg, _, err := image.DecodeConfig(th)
		if size, _ := th.Seek(0, 2); err != nil || cfg.Width != 32 || cfg.Height != 32 || size >= 64<<10 {
			t.Errorf("padded icon's thumbnail: %d×%d of %d bytes, %v; want 32×32, a few KB", cfg.Width, cfg.Height, size, err)
		}
		m, _ = st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "dense"})
		if m.State != store.MediaReady || m.ThumbSHA256 != "" {
			t.Errorf("an 800×800 JPEG its thumbnail would be larger than: state %d, thumbnail %q; want none", m.State, m.ThumbSHA256)
		}
	})
}
