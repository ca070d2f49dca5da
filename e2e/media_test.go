package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
