package media_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const room = "!room:example.org"

func ev(t *testing.T, evID, typ, sender string, ts int64, stateKey *string, content string) store.Event {
	t.Helper()
	m := map[string]any{"event_id": evID, "room_id": room, "type": typ, "sender": sender,
		"origin_server_ts": ts, "content": json.RawMessage(content)}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	raw, _ := json.Marshal(m)
	e, err := event.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return store.Event{Event: *e, Public: true, Rel: event.ParseRelation(e.Content)}
}

func sk(s string) *string { return &s }

// homeserver is a fake media repository: v1 (authenticated) only when
// v1 is set, legacy v3 always; it records the paths asked for.
type homeserver struct {
	mu    sync.Mutex
	v1    bool
	files map[string]string
	fail  map[string]int // status to answer for a media ID
	paths []string
}

func (h *homeserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.paths = append(h.paths, r.URL.EscapedPath())
	if r.Header.Get("Authorization") != "Bearer as-token" || r.URL.Query().Get("user_id") != "@archive:example.org" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"who?"}`)
		return
	}
	var rest string
	switch {
	case strings.HasPrefix(r.URL.Path, "/_matrix/client/v1/media/download/") && h.v1:
		rest = strings.TrimPrefix(r.URL.Path, "/_matrix/client/v1/media/download/")
	case strings.HasPrefix(r.URL.Path, "/_matrix/media/v3/download/"):
		rest = strings.TrimPrefix(r.URL.Path, "/_matrix/media/v3/download/")
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errcode":"M_UNRECOGNIZED","error":"no such endpoint"}`)
		return
	}
	server, mediaID, _ := strings.Cut(rest, "/")
	if code := h.fail[mediaID]; code != 0 {
		w.WriteHeader(code)
		fmt.Fprint(w, `{"errcode":"M_UNKNOWN","error":"failing"}`)
		return
	}
	body, ok := h.files[server+"/"+mediaID]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errcode":"M_NOT_FOUND","error":"no such media"}`)
		return
	}
	w.Header().Set("Content-Type", "image/png") // a lie for most: never trusted
	fmt.Fprint(w, body)
}

const png1x1 = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"

// The fetcher downloads as the bot, falls back to the legacy endpoint,
// stores each distinct file once, sniffs types, refuses what is too large,
// retries failures later, and deletes the bytes once the last event that
// referred to them is redacted.
func TestFetcher(t *testing.T) {
	for _, v1 := range []bool{true, false} {
		t.Run(fmt.Sprintf("v1=%v", v1), func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				hs := &homeserver{v1: v1, files: map[string]string{
					"example.org/png":   png1x1,
					"example.org/dup":   png1x1,
					"example.org/svg":   `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
					"example.org/big":   strings.Repeat("x", 2000),
					"other.org/remote":  "remote text",
					"example.org/flaky": "flaky bytes",
				}, fail: map[string]int{"flaky": http.StatusBadGateway}}
				srv := httptest.NewServer(hs)
				defer srv.Close()
				blobs, err := media.OpenDir(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				f, err := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
				if err != nil {
					t.Fatal(err)
				}
				f.MaxSize = 1000
				msg := func(id, msgtype, url string) store.Event {
					return ev(t, id, "m.room.message", "@bob:example.org", 2000, nil, fmt.Sprintf(`{"msgtype":%q,"body":"b","url":%q}`, msgtype, url))
				}
				st.PutEvents(ctx, []store.Event{
					ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
					ev(t, "$hv", "m.room.history_visibility", "@bob:example.org", 1001, sk(""), `{"history_visibility":"world_readable"}`),
					msg("$png", "m.image", "mxc://example.org/png"), msg("$dup", "m.image", "mxc://example.org/dup"),
					msg("$svg", "m.image", "mxc://example.org/svg"), msg("$big", "m.file", "mxc://example.org/big"),
					msg("$remote", "m.file", "mxc://other.org/remote"), msg("$flaky", "m.file", "mxc://example.org/flaky"),
					msg("$missing", "m.file", "mxc://example.org/missing"),
				})
				stats, err := f.Drain(ctx, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				// png and dup are the same bytes: one blob.
				if stats.URIs != 4 || stats.Blobs != 3 {
					t.Fatalf("stats %+v, want 4 URIs in 3 blobs", stats)
				}
				get := func(uri string) store.Media {
					m, _ := event.ParseMXC(uri)
					got, err := st.MediaFor(ctx, m)
					if err != nil {
						t.Fatal(err)
					}
					return got
				}
				for uri, ct := range map[string]string{
					"mxc://example.org/png": "image/png", "mxc://example.org/svg": "image/svg+xml",
					"mxc://other.org/remote": "text/plain; charset=utf-8",
				} {
					if m := get(uri); m.State != store.MediaReady || m.ContentType != ct {
						t.Errorf("%s: %+v, want ready %s", uri, m, ct)
					}
				}
				for _, uri := range []string{"mxc://example.org/big", "mxc://example.org/flaky", "mxc://example.org/missing"} {
					if m := get(uri); m.State != store.MediaPending || m.Error == "" {
						t.Errorf("%s: %+v, want pending with an error", uri, m)
					}
				}
				png := get("mxc://example.org/png")
				if _, err := os.Stat(blobs.Path(png.SHA256)); err != nil {
					t.Fatal(err)
				}
				hs.mu.Lock()
				for _, p := range hs.paths {
					if !strings.HasPrefix(p, "/_matrix/client/v1/media/download/") && !strings.HasPrefix(p, "/_matrix/media/v3/download/") {
						t.Errorf("asked the homeserver for %s", p)
					}
					if v1 && strings.HasPrefix(p, "/_matrix/media/v3/") {
						t.Errorf("fell back to %s although v1 works", p)
					}
				}
				hs.fail = nil
				hs.mu.Unlock()

				// A retry (the operator's catch-up) fetches what failed
				// temporarily.
				if _, err := f.Drain(ctx, "", nil); err != nil {
					t.Fatal(err)
				}
				if m := get("mxc://example.org/flaky"); m.State != store.MediaReady {
					t.Errorf("flaky after retry: %+v", m)
				}

				// Redacting one of two events sharing the bytes keeps them;
				// redacting the other deletes them.
				st.PutEvents(ctx, []store.Event{ev(t, "$r1", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$png"}`)})
				if _, err := f.Collect(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(blobs.Path(png.SHA256)); err != nil {
					t.Fatalf("bytes deleted while $dup still shows them: %v", err)
				}
				st.PutEvents(ctx, []store.Event{ev(t, "$r2", "m.room.redaction", "@bob:example.org", 3001, nil, `{"redacts":"$dup"}`)})
				if n, err := f.Collect(ctx); err != nil || n != 1 {
					t.Fatalf("Collect = %d, %v", n, err)
				}
				if _, err := os.Stat(blobs.Path(png.SHA256)); !os.IsNotExist(err) {
					t.Fatalf("bytes still on disk after the last redaction: %v", err)
				}
			})
		})
	}
}

// Run resumes a queue left by an earlier process: the queue is in the
// database, written with the events.
func TestFetcherRunResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		hs := &homeserver{v1: true, files: map[string]string{"example.org/a": "aaa"}}
		srv := httptest.NewServer(hs)
		defer srv.Close()
		st.PutEvents(context.Background(), []store.Event{
			ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
			ev(t, "$a", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.file","body":"a","url":"mxc://example.org/a"}`),
		})
		blobs, _ := media.OpenDir(t.TempDir())
		f, _ := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
		f.Poll = 20 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			m, _ := st.MediaFor(context.Background(), event.MXC{Server: "example.org", MediaID: "a"})
			if m.State == store.MediaReady {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("Run did not fetch the queued media")
	})
}

// A large image gets a thumbnail made by the archive; a decompression bomb
// (a small file whose header claims 10^10 pixels) gets none, costs no
// memory, and is still served as stored.
func TestFetcherThumbnails(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	ctx := context.Background()
	// A 2000×1500 PNG of noise: well over media.ThumbnailAbove.
	img := image.NewNRGBA(image.Rect(0, 0, 2000, 1500))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.IntN(256))
	}
	var big bytes.Buffer
	png.Encode(&big, img)
	bomb := append(bombHeader(100000, 100000), bytes.Repeat([]byte{0}, media.ThumbnailAbove+1)...)
	// 700×500 of noise: over ThumbnailAbove in bytes, but already
	// page-sized. Decided on bytes, it is re-encoded at its own size, and
	// the thumbnail kept only if smaller (noise with random alpha loses
	// what premultiplying drops, so it is).
	mid := image.NewNRGBA(image.Rect(0, 0, 700, 500))
	for i := range mid.Pix {
		mid.Pix[i] = byte(r.IntN(256))
	}
	var midPNG bytes.Buffer
	png.Encode(&midPNG, mid)
	hs := &homeserver{v1: true, files: map[string]string{"example.org/big": big.String(), "example.org/bomb": string(bomb), "example.org/mid": midPNG.String()}}
	srv := httptest.NewServer(hs)
	defer srv.Close()
	st.PutEvents(ctx, []store.Event{
		ev(t, "$create", "m.room.create", "@bob:example.org", 1000, sk(""), `{"room_version":"10","creator":"@bob:example.org"}`),
		ev(t, "$big", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.image","body":"big.png","url":"mxc://example.org/big"}`),
		ev(t, "$bomb", "m.room.message", "@bob:example.org", 2001, nil, `{"msgtype":"m.image","body":"bomb.png","url":"mxc://example.org/bomb"}`),
		ev(t, "$mid", "m.room.message", "@bob:example.org", 2002, nil, `{"msgtype":"m.image","body":"mid.png","url":"mxc://example.org/mid"}`),
	})
	blobs, _ := media.OpenDir(t.TempDir())
	f, _ := media.NewFetcher(st, blobs, srv.URL, "as-token", "@archive:example.org", storetest.Logger(t))
	if _, err := f.Drain(ctx, "", nil); err != nil {
		t.Fatal(err)
	}
	m, _ := st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "big"})
	if m.State != store.MediaReady || m.ThumbSHA256 == "" || m.ThumbType != "image/png" {
		t.Fatalf("large image: %+v", m)
	}
	th, err := blobs.Open(ctx, m.ThumbSHA256)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := image.DecodeConfig(th)
	th.Close()
	if err != nil || cfg.Width != media.ThumbnailWidth || cfg.Height != 600 {
		t.Fatalf("thumbnail %d×%d, %v", cfg.Width, cfg.Height, err)
	}
	m, _ = st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "bomb"})
	if m.State != store.MediaReady || m.ThumbSHA256 != "" {
		t.Fatalf("bomb: %+v", m)
	}
	m, _ = st.MediaFor(ctx, event.MXC{Server: "example.org", MediaID: "mid"})
	if m.State != store.MediaReady || m.ThumbSHA256 == "" || m.Size < media.ThumbnailAbove {
		t.Fatalf("page-sized image of %d bytes: state %d, thumbnail %q; want one", m.Size, m.State, m.ThumbSHA256)
	}
	th, err = blobs.Open(ctx, m.ThumbSHA256)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err = image.DecodeConfig(th)
	size, _ := th.Seek(0, io.SeekEnd)
	th.Close()
	if err != nil || cfg.Width != 700 || cfg.Height != 500 || size >= m.Size {
		t.Fatalf("page-sized image's thumbnail %d×%d of %d bytes (image: %d), %v; want 700×500, smaller", cfg.Width, cfg.Height, size, m.Size, err)
	}
	// Redacting the large image deletes both its bytes and its thumbnail.
	st.PutEvents(ctx, []store.Event{ev(t, "$r", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$big"}`)})
	if n, err := f.Collect(ctx); err != nil || n != 2 {
		t.Fatalf("Collect after redacting the large image = %d, %v; want its bytes and its thumbnail", n, err)
	}
}

func bombHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	chunk := append([]byte("IHDR"), ihdr...)
	binary.Write(&b, binary.BigEndian, uint32(13))
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}
