package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/dendritetest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// upload puts bytes in the homeserver's media repository as u and returns
// the mxc URI.
func upload(t *testing.T, u *dendritetest.User, name, contentType string, body []byte) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.Server().URL+"/_matrix/media/v3/upload?filename="+name, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.Token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		ContentURI string `json:"content_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.ContentURI == "" {
		t.Fatalf("upload %s: %d %v %+v", name, resp.StatusCode, err, out)
	}
	return out.ContentURI
}

func mxcOf(t *testing.T, uri string) event.MXC {
	t.Helper()
	m, ok := event.ParseMXC(uri)
	if !ok {
		t.Fatalf("homeserver gave an mxc URI the archive refuses: %q", uri)
	}
	return m
}

// A PNG, a text file and an SVG sent to a world-readable room through
// Dendrite: the archiver fetches them (authenticated media, as the bot), the
// archive serves the same bytes at its own URL, the SVG as a sandboxed
// attachment; redacting the image turns its URL to 410 and deletes its
// bytes from the media store; a room that is not world-readable has its
// media never fetched.
func TestMediaArchivedServedAndErased(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("media", "world_readable")
	w.inviteBot(room)
	priv := w.publicRoom("mediapriv", "shared")
	w.inviteBot(priv)
	a := w.alice

	pngBytes := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89 e2e png")
	textBytes := []byte("build log line 1\nbuild log line 2\n")
	svgBytes := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>`)
	secretBytes := []byte("\x89PNG\r\n\x1a\n not for the archive")
	pngURI := upload(t, a, "shot.png", "image/png", pngBytes)
	textURI := upload(t, a, "build.log", "text/plain", textBytes)
	svgURI := upload(t, a, "logo.svg", "image/png", svgBytes) // the sender lies about the type
	secretURI := upload(t, a, "secret.png", "image/png", secretBytes)

	img := a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.image", "body": "shot.png", "url": pngURI,
		"info": map[string]any{"w": 1, "h": 1, "mimetype": "image/png"}})
	a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.file", "body": "build.log", "url": textURI})
	a.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.image", "body": "logo.svg", "url": svgURI})
	secretEv := a.Send(t, priv, "m.room.message", map[string]any{"msgtype": "m.image", "body": "secret.png", "url": secretURI})

	ctx := context.Background()
	ready := func(uri string) store.Media {
		var m store.Media
		w.waitFor("the archiver to fetch "+uri, 60*time.Second, func() bool {
			var err error
			m, err = w.st.MediaFor(ctx, mxcOf(t, uri))
			return err == nil && m.State == store.MediaReady
		})
		return m
	}
	pngMedia := ready(pngURI)
	ready(textURI)
	ready(svgURI)
	// A marker sent after the shared-history message: once it is archived,
	// the homeserver has delivered the other one too.
	marker := a.Send(t, room, "m.room.message", text("after the shared-history image"))
	w.waitFor("the marker message", 60*time.Second, func() bool { return len(w.archived(marker)) == 1 })
	if len(w.archived(secretEv)) != 0 {
		t.Error("a message of a shared-history room was archived")
	}

	mediaDir := filepath.Join(w.dir, "data", "media")
	srv, err := web.New(w.readerStore(), render.New(render.Options{MediaURL: web.MediaPath}), storetest.Logger(t),
		web.Options{Media: media.ReadDir(mediaDir)})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(uri string) *httptest.ResponseRecorder {
		m := mxcOf(t, uri)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, web.MediaPath(m.Server, m.MediaID), nil))
		return rec
	}
	for uri, want := range map[string][]byte{pngURI: pngBytes, textURI: textBytes, svgURI: svgBytes} {
		rec := serve(uri)
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("%s: %d, %d bytes, want the %d bytes uploaded", uri, rec.Code, rec.Body.Len(), len(want))
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox") || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: CSP %q", uri, csp)
		}
	}
	if rec := serve(svgURI); rec.Header().Get("Content-Disposition") != "attachment" || rec.Header().Get("Content-Type") != "image/svg+xml" {
		t.Errorf("SVG served as %q, %q", rec.Header().Get("Content-Type"), rec.Header().Get("Content-Disposition"))
	}
	if rec := serve(pngURI); rec.Header().Get("Content-Disposition") != "inline" {
		t.Errorf("PNG served as %q", rec.Header().Get("Content-Disposition"))
	}
	// The day page shows the image from the archive, never the homeserver.
	slug := w.slugOf(w.st, room)
	_, page := get(srv, "/room/"+slug+"/"+time.Now().UTC().Format("2006-01-02"))
	pm := mxcOf(t, pngURI)
	if !strings.Contains(page, `src="`+web.MediaPath(pm.Server, pm.MediaID)+`"`) || strings.Contains(page, "_matrix/") {
		t.Errorf("day page does not show the archived image: %s", tail(page, 2000))
	}

	// Not world-readable: never queued, never fetched.
	if m, err := w.st.MediaFor(ctx, mxcOf(t, secretURI)); err != nil || m.State != store.MediaUnknown {
		t.Errorf("media of a shared-history room: %+v %v", m, err)
	}
	if rec := serve(secretURI); rec.Code != http.StatusNotFound {
		t.Errorf("media of a shared-history room served: %d", rec.Code)
	}
	blobPath := media.ReadDir(mediaDir).Path(pngMedia.SHA256)
	if _, err := os.Stat(blobPath); err != nil {
		t.Fatalf("the PNG is not in the media store: %v", err)
	}
	filepath.WalkDir(mediaDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Equal(b, secretBytes) {
				t.Errorf("a shared-history room's file is in the media store: %s", p)
			}
		}
		return nil
	})

	// Redact the image: 410 at once on the archive, bytes deleted by the
	// running archiver.
	a.Redact(t, room, img, "wrong screenshot")
	w.waitFor("the image's URL to answer 410", 60*time.Second, func() bool { return serve(pngURI).Code == http.StatusGone })
	w.waitFor("the image's bytes to leave the media store", 30*time.Second, func() bool {
		_, err := os.Stat(blobPath)
		return os.IsNotExist(err)
	})
	if rec := serve(textURI); rec.Code != http.StatusOK {
		t.Errorf("the file's URL after redacting the image: %d", rec.Code)
	}
	out := w.run("media", "stats")
	if !strings.Contains(out, "2 media URIs in 2 files") {
		t.Errorf("media stats after the redaction: %s", out)
	}
	fmt.Fprintln(os.Stderr, "media stats:", strings.TrimSpace(out))
}

// slowMedia is a proxy in front of the homeserver that trickles media
// downloads while slow is set, so the archiver can be killed mid-download.
type slowMedia struct {
	target    string
	slow      atomic.Bool
	inFlight  atomic.Int32
	transport http.RoundTripper
}

func (p *slowMedia) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := r.Clone(r.Context())
	req.RequestURI = ""
	u, _ := url.Parse(p.target)
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if !strings.Contains(r.URL.Path, "/media/") || !strings.Contains(r.URL.Path, "/download/") || !p.slow.Load() {
		io.Copy(w, resp.Body)
		return
	}
	p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
		if err != nil {
			return
		}
		if p.slow.Load() {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// The archiver killed (SIGKILL) in the middle of a download: nothing half
// written is served, the fetch is still queued, and the restarted archiver
// fetches the whole file.
func TestMediaFetchResumesAfterAKill(t *testing.T) {
	w := newWorld(t)
	proxy := &slowMedia{target: w.hs.URL, transport: http.DefaultTransport}
	proxy.slow.Store(true)
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	w.stopArchiver()
	w.env = append(w.env, "MXARCHIVE_HOMESERVER_ADDRESS="+ps.URL)
	w.startArchiver()

	room := w.publicRoom("mediakill", "world_readable")
	w.inviteBot(room)
	// 1 MiB at 4 KiB per 200 ms: about 50 s to download.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	uri := upload(t, w.alice, "big.bin", "application/octet-stream", big)
	w.alice.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.file", "body": "big.bin", "url": uri})
	w.waitFor("the download to start", 60*time.Second, func() bool { return proxy.inFlight.Load() > 0 })
	time.Sleep(time.Second)
	w.crash()

	ctx := context.Background()
	m, err := w.st.MediaFor(ctx, mxcOf(t, uri))
	if err != nil || m.State != store.MediaPending {
		t.Fatalf("after the kill: %+v, %v; want pending", m, err)
	}
	jobs, err := w.st.DueMedia(ctx, "", time.Now().Add(time.Hour), 10)
	if err != nil || len(jobs) != 1 || jobs[0].String() != uri {
		t.Fatalf("queue after the kill: %+v, %v", jobs, err)
	}

	proxy.slow.Store(false)
	w.startArchiver()
	w.waitFor("the restarted archiver to fetch the file", 60*time.Second, func() bool {
		m, err = w.st.MediaFor(ctx, mxcOf(t, uri))
		return err == nil && m.State == store.MediaReady
	})
	got, err := os.ReadFile(media.ReadDir(filepath.Join(w.dir, "data", "media")).Path(m.SHA256))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("stored %d bytes (%v), want the %d uploaded", len(got), err, len(big))
	}
}
