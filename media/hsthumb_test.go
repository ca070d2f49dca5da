package media_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// thumbnailer adds the homeserver's thumbnail endpoint to homeserver,
// answering with thumbs[mediaID] (none: 404).
type thumbnailer struct {
	*homeserver
	thumbs map[string]string
}

func (h *thumbnailer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/_matrix/client/v1/media/thumbnail/")
	if !ok {
		h.homeserver.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	h.paths = append(h.paths, r.URL.EscapedPath())
	h.mu.Unlock()
	_, mediaID, _ := strings.Cut(rest, "/")
	body, found := h.thumbs[mediaID]
	if r.Header.Get("Authorization") != "Bearer as-token" || !found || r.URL.Query().Get("width") == "" {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"errcode":"M_NOT_FOUND","error":"no thumbnail"}`))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write([]byte(body))
}

func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A large image's thumbnail comes from the homeserver's /thumbnail when it
// offers a sane one (an image, of page size); otherwise (none, an SVG, a
// decompression bomb, one larger than asked) the archive makes its own.
func TestFetcherUsesHomeserverThumbnails(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	big := string(noisePNG(t, 2000, 1500))
	good := noisePNG(t, 800, 600)
	hs := &thumbnailer{
		homeserver: &homeserver{v1: true, files: map[string]string{
			"example.org/good": big, "example.org/none": big + "\x00", "example.org/svg": big + "\x01",
			"example.org/bomb": big + "\x02", "example.org/huge": big + "\x03",
		}},
		thumbs: map[string]string{
			"good": string(good),
			"svg":  `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
			"bomb": string(bombHeader(100000, 100000)),
			"huge": big,
		},
	}
	srv := httptest.NewServer(hs)
	defer srv.Close()
	evs := []store.Event{ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`)}
	for i, id := range []string{"good", "none", "svg", "bomb", "huge"} {
		evs = append(evs, ev(t, "$"+id, "m.room.message", "@bob:example.org", int64(2000+i), nil,
			`{"msgtype":"m.image","body":"x.png","url":"mxc://example.org/`+id+`"}`))
	}
	st.PutEvents(ctx, evs)
	blobs, _ := media.OpenDir(t.TempDir())
	f, _ := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(good)
	for _, id := range []string{"good", "none", "svg", "bomb", "huge"} {
		m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: id})
		if m.State != store.MediaReady || m.ThumbSHA256 == "" || m.ThumbType != "image/png" {
			t.Fatalf("%s: %+v; want a PNG thumbnail", id, m)
		}
		fromHS := m.ThumbSHA256 == hex.EncodeToString(sum[:])
		if fromHS != (id == "good") {
			t.Errorf("%s: thumbnail from the homeserver %v", id, fromHS)
		}
		th, err := blobs.Open(ctx, m.ThumbSHA256)
		if err != nil {
			t.Fatal(err)
		}
		cfg, _, err := image.DecodeConfig(th)
		th.Close()
		if err != nil || cfg.Width > media.ThumbnailWidth || cfg.Height > media.ThumbnailHeight {
			t.Errorf("%s: thumbnail %d×%d, %v", id, cfg.Width, cfg.Height, err)
		}
	}
	asked := 0
	hs.mu.Lock()
	for _, p := range hs.paths {
		if strings.Contains(p, "/thumbnail/") {
			asked++
		}
	}
	hs.mu.Unlock()
	if asked < 5 {
		t.Errorf("the homeserver's /thumbnail was asked %d times, want once per large image", asked)
	}
}

// A WebP's header (VP8X) claims a canvas; the decoder allocates what the
// image chunk says. A room member's 801×1 "header" over a 6400×6400 image
// (41 M pixels, past MaxPixels; 1 GiB at the format's maximum) gets no
// thumbnail and costs no decoding; a homeserver's 800×600 "thumbnail"
// over a 16384×16384 image is not taken as one (a browser would refuse
// it): the archive makes its own.
func TestFetcherRefusesLyingWebP(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	big := noisePNG(t, 2000, 1500)
	hs := &thumbnailer{
		homeserver: &homeserver{v1: true, files: map[string]string{
			"evil.org/bomb":    string(media.WebPWithCanvas(801, 1, 6400, 6400, media.ThumbnailAbove+1)),
			"example.org/liar": string(big),
		}},
		thumbs: map[string]string{"liar": string(media.WebPWithCanvas(800, 600, 16384, 16384, 0))},
	}
	srv := httptest.NewServer(hs)
	defer srv.Close()
	st.PutEvents(ctx, []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$bomb", "m.room.message", "@mallory:evil.org", 2001, nil, `{"msgtype":"m.image","body":"cat.webp","url":"mxc://evil.org/bomb"}`),
		ev(t, "$liar", "m.room.message", "@bob:example.org", 2002, nil, `{"msgtype":"m.image","body":"x.png","url":"mxc://example.org/liar"}`),
	})
	blobs, _ := media.OpenDir(t.TempDir())
	f, _ := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	m, _ := st.MediaFor(ctx, event.MXC{Server: "evil.org", MediaID: "bomb"})
	if m.State != store.MediaReady || m.ContentType != "image/webp" || m.ThumbSHA256 != "" {
		t.Errorf("bomb: state %v, type %q, thumbnail %q; want it stored and served as it is, with no thumbnail", m.State, m.ContentType, m.ThumbSHA256)
	}
	m, _ = st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "liar"})
	if m.State != store.MediaReady || m.ThumbType != "image/png" {
		t.Errorf("liar: state %v, thumbnail %q; want the archive's own PNG thumbnail, not the homeserver's WebP", m.State, m.ThumbType)
	}
}
