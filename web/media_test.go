package web_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

const (
	testPNG = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89rest of the png"
	testSVG = `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><script>alert(1)</script></svg>`
)

// mediaEnv is an archive with media: the room's events imported, and the
// archiver's part (fetching into the blob directory) done by hand.
type mediaEnv struct {
	*env
	blobs *media.Dir
}

func newMediaEnv(t testing.TB, st *store.Store, file string) *mediaEnv {
	t.Helper()
	return newMediaEnvOpts(t, st, file, web.Options{})
}

// newMediaEnvOpts is newMediaEnv with the server's options (the media
// store is added to them).
func newMediaEnvOpts(t testing.TB, st *store.Store, file string, opts web.Options) *mediaEnv {
	t.Helper()
	in := ingest.New(st, storetest.Logger(t), "")
	if _, err := in.ImportFile(context.Background(), file, ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	blobs, err := media.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts.Media = blobs
	srv, err := web.New(st, render.New(render.Options{MediaURL: web.MediaPath}), storetest.Logger(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return &mediaEnv{env: &env{st: st, srv: srv}, blobs: blobs}
}

// fetch does what the archiver's fetcher does for one URI.
func (e *mediaEnv) fetch(t testing.TB, uri, body string) media.Blob {
	t.Helper()
	ctx := context.Background()
	b, err := e.blobs.Put(ctx, strings.NewReader(body), 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := event.ParseMXC(uri)
	if kept, err := e.st.MediaFetched(ctx, m, b.Hash, b.Size, media.Sniff([]byte(body)), nil); err != nil || !kept {
		t.Fatalf("MediaFetched(%s) = %v, %v", uri, kept, err)
	}
	return b
}

func TestMediaServing(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newMediaEnv(t, st, writeRoom(t,
		msgLine("$png", 1767225601000, `{"msgtype":"m.image","body":"shot.png","url":"mxc://example.org/png","info":{"mimetype":"text/html"}}`),
		msgLine("$svg", 1767225602000, `{"msgtype":"m.image","body":"logo.svg","url":"mxc://example.org/svg","info":{"mimetype":"image/png"}}`),
		msgLine("$log", 1767225603000, `{"msgtype":"m.file","body":"build.log","url":"mxc://example.org:8448/log"}`),
		msgLine("$later", 1767225604000, `{"msgtype":"m.file","body":"later.bin","url":"mxc://example.org/later"}`),
	))
	e.fetch(t, "mxc://example.org/png", testPNG)
	e.fetch(t, "mxc://example.org/svg", testSVG)
	e.fetch(t, "mxc://example.org:8448/log", "line 1\nline 2\n")

	png := e.do(t, http.MethodGet, "/media/example.org/png", nil)
	if png.Code != http.StatusOK || png.Body.String() != testPNG {
		t.Fatalf("PNG: %d %q", png.Code, png.Body.String())
	}
	h := png.Header()
	for k, want := range map[string]string{
		"Content-Type": "image/png", "Content-Disposition": "inline", "X-Content-Type-Options": "nosniff",
		"Cache-Control": "public, no-cache",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("PNG %s = %q, want %q", k, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "sandbox;") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("PNG CSP %q", csp)
	}
	etag := h.Get("ETag")
	if len(etag) != 66 {
		t.Errorf("ETag %q", etag)
	}

	// The SVG: its sniffed type, never inline, sandboxed.
	svg := e.do(t, http.MethodGet, "/media/example.org/svg", nil)
	if svg.Code != http.StatusOK || svg.Body.String() != testSVG || svg.Header().Get("Content-Type") != "image/svg+xml" ||
		svg.Header().Get("Content-Disposition") != "attachment" || !strings.HasPrefix(svg.Header().Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("SVG: %d %v", svg.Code, svg.Header())
	}
	if log := e.do(t, http.MethodGet, "/media/example.org:8448/log", nil); log.Code != http.StatusOK ||
		log.Header().Get("Content-Disposition") != "attachment" || !strings.HasPrefix(log.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("text file: %d %v", log.Code, log.Header())
	}

	// Range (audio and video seek) and HEAD.
	part := e.do(t, http.MethodGet, "/media/example.org/png", map[string]string{"Range": "bytes=1-3"})
	if part.Code != http.StatusPartialContent || part.Body.String() != "PNG" {
		t.Errorf("Range: %d %q", part.Code, part.Body.String())
	}
	// The last zero bytes are no bytes at all: unsatisfiable (RFC 9110),
	// alone; beside a range that is not, left out.
	if none := e.do(t, http.MethodGet, "/media/example.org/png", map[string]string{"Range": "bytes=-0"}); none.Code != http.StatusRequestedRangeNotSatisfiable ||
		none.Header().Get("Content-Range") != "bytes */"+strconv.Itoa(len(testPNG)) {
		t.Errorf("Range of the last 0 bytes: %d %v %q", none.Code, none.Header(), none.Body.String())
	}
	if some := e.do(t, http.MethodGet, "/media/example.org/png", map[string]string{"Range": "bytes=-00, 1-3"}); some.Code != http.StatusPartialContent || some.Body.String() != "PNG" {
		t.Errorf("Range of the last 0 bytes and 1-3: %d %q", some.Code, some.Body.String())
	}
	// The preconditions and If-Range come before it (RFC 9110, 13.2.2):
	// a current copy is not modified, a failed If-Match fails, an If-Range
	// of the current copy lets the range apply and one of another copy
	// asks for the whole file (helper-94).
	for _, c := range []struct {
		header   map[string]string
		code     int
		bodySize int
	}{
		{map[string]string{"Range": "bytes=-0", "If-None-Match": etag}, http.StatusNotModified, 0},
		{map[string]string{"Range": "bytes=-0", "If-Match": `"other"`}, http.StatusPreconditionFailed, 0},
		{map[string]string{"Range": "bytes=-0", "If-Range": etag}, http.StatusRequestedRangeNotSatisfiable, 0},
		{map[string]string{"Range": "bytes=-0", "If-Range": `"other"`}, http.StatusOK, len(testPNG)},
		{map[string]string{"Range": "bytes=-0, 1-3", "If-Range": etag}, http.StatusPartialContent, 3},
	} {
		rec := e.do(t, http.MethodGet, "/media/example.org/png", c.header)
		if rec.Code != c.code || c.code != http.StatusRequestedRangeNotSatisfiable && rec.Body.Len() != c.bodySize {
			t.Errorf("%v: %d, %d bytes, Content-Range %q; want %d, %d bytes", c.header, rec.Code, rec.Body.Len(), rec.Header().Get("Content-Range"), c.code, c.bodySize)
		}
		if c.code == http.StatusRequestedRangeNotSatisfiable && rec.Header().Get("Content-Range") != "bytes */"+strconv.Itoa(len(testPNG)) {
			t.Errorf("%v: Content-Range %q", c.header, rec.Header().Get("Content-Range"))
		}
	}
	if head := e.do(t, http.MethodHead, "/media/example.org/png", nil); head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", head.Code, head.Body.Len())
	}
	if rv := e.do(t, http.MethodGet, "/media/example.org/png", map[string]string{"If-None-Match": etag}); rv.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d", rv.Code)
	}

	// Thumbnails: the image itself until the archive made one, then that;
	// none for what is not an inline image.
	if th := e.do(t, http.MethodGet, "/media/example.org/png/thumbnail", nil); th.Code != http.StatusOK || th.Body.String() != testPNG {
		t.Errorf("thumbnail without one made: %d", th.Code)
	}
	if th := e.do(t, http.MethodGet, "/media/example.org/svg/thumbnail", nil); th.Code != http.StatusNotFound {
		t.Errorf("thumbnail of an SVG: %d", th.Code)
	}
	small, err := e.blobs.Put(context.Background(), strings.NewReader("\xFF\xD8\xFF\xE0 small"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.MediaThumbnail(context.Background(), event.MXC{Server: "example.org", MediaID: "png"}, small.Hash, "image/jpeg", nil); err != nil {
		t.Fatal(err)
	}
	if th := e.do(t, http.MethodGet, "/media/example.org/png/thumbnail", nil); th.Code != http.StatusOK ||
		th.Body.String() != "\xFF\xD8\xFF\xE0 small" || th.Header().Get("Content-Type") != "image/jpeg" || th.Header().Get("ETag") == etag {
		t.Errorf("made thumbnail: %d %v", th.Code, th.Header())
	}

	// Not fetched yet, never referred to, not a media address.
	for path, want := range map[string]int{
		"/media/example.org/later":          http.StatusNotFound,
		"/media/example.org/never":          http.StatusNotFound,
		"/media/example.org/..":             http.StatusBadRequest,
		"/media/example.org/a%2F..%2Fb":     http.StatusBadRequest,
		"/media/evil.com%40example.org/png": http.StatusBadRequest,
		"/media/example.org/a.b":            http.StatusBadRequest,
	} {
		if rec := e.do(t, http.MethodGet, path, nil); rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}

	// A redaction: the revalidation a cache makes answers 410 at once,
	// before the archiver deletes anything.
	in := ingest.New(st, storetest.Logger(t), "")
	if _, err := in.ImportFile(context.Background(), writeRoomFile(t, redactionLine("$r", "@a:example.org", 1767225700000, "$png", "oops")), ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if rv := e.do(t, http.MethodGet, "/media/example.org/png", map[string]string{"If-None-Match": etag}); rv.Code != http.StatusGone {
		t.Errorf("revalidation after the redaction: %d", rv.Code)
	}
	if th := e.do(t, http.MethodGet, "/media/example.org/png/thumbnail", nil); th.Code != http.StatusGone {
		t.Errorf("thumbnail after the redaction: %d", th.Code)
	}
	// Hiding the room stops the rest.
	if err := st.HideRoom(context.Background(), "!x:example.org", true, ""); err != nil {
		t.Fatal(err)
	}
	if rec := e.do(t, http.MethodGet, "/media/example.org/svg", nil); rec.Code != http.StatusGone || bytes.Contains(rec.Body.Bytes(), []byte("<svg")) {
		t.Errorf("media of a hidden room: %d", rec.Code)
	}
}

// Pages show images inline at their stated size, players for audio and
// video, download links for files; the text log and the API carry the
// archive's media URL, never the homeserver's.
func TestMediaOnPages(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newMediaEnv(t, st, writeRoom(t,
		msgLine("$png", 1767225601000, `{"msgtype":"m.image","body":"shot.png","url":"mxc://example.org/png","info":{"w":800,"h":600}}`),
		msgLine("$vid", 1767225602000, `{"msgtype":"m.video","body":"clip.mp4","url":"mxc://example.org/vid","info":{"w":"wide"}}`),
		msgLine("$log", 1767225603000, `{"msgtype":"m.file","body":"build.log","url":"mxc://example.org/log","info":{"size":2048}}`),
		msgLine("$bad", 1767225604000, `{"msgtype":"m.file","body":"evil.txt","url":"mxc://example.org/../../x"}`),
	))
	// Fetched, as the archiver would: media the archive has no copy of is
	// labelled instead (TestMediaUnavailableOnPages).
	e.fetch(t, "mxc://example.org/png", testPNG)
	e.fetch(t, "mxc://example.org/vid", "not really a video")
	e.fetch(t, "mxc://example.org/log", "line 1\n")
	doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	img := doc.Find(`img.media[src="/media/example.org/png"]`)
	if img.Length() != 1 || img.AttrOr("width", "") != "400" || img.AttrOr("height", "") != "300" ||
		img.AttrOr("loading", "") != "lazy" || img.AttrOr("alt", "") != "shot.png" {
		t.Errorf("image: %d %v", img.Length(), img.Nodes)
	}
	vid := doc.Find(`video.media[src="/media/example.org/vid"]`)
	if _, autoplay := vid.Attr("autoplay"); vid.Length() != 1 || vid.AttrOr("preload", "") != "none" || autoplay {
		t.Errorf("video: %d", vid.Length())
	}
	if _, ok := vid.Attr("controls"); !ok {
		t.Error("video without controls")
	}
	if a := doc.Find(`a.media[href="/media/example.org/log"][download]`); a.Length() != 1 || a.Text() != "build.log" {
		t.Errorf("file link: %d", a.Length())
	}
	if !strings.Contains(doc.Text(), "(2.0 KiB)") {
		t.Error("file size not shown")
	}
	if doc.Find(`[href*="_matrix"], [src*="_matrix"], [href*="/x"]`).Length() != 0 {
		t.Error("a link to the homeserver or a path the mxc smuggled")
	}

	txt := e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String()
	if !strings.Contains(txt, "shot.png </media/example.org/png>") ||
		!strings.Contains(txt, "build.log </media/example.org/log>") || strings.Contains(txt, "evil.txt <") {
		t.Errorf("text log:\n%s", txt)
	}
	api := e.get(t, "/api/v1/events/$png").Body.String()
	if !strings.Contains(api, `"media_url":"/media/example.org/png"`) {
		t.Errorf("API: %s", api)
	}
}

// A file's download link names it (helper-123): the file is served as an
// attachment with no name of its own (one file may be sent under many),
// and the link's bare download attribute had the browser save it under
// its media ID, "Rk2QpZ", with no extension, for every file.
func TestDownloadLinkNamesTheFile(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	e := newMediaEnv(t, st, writeRoom(t,
		msgLine("$pdf", 1767225601000, `{"msgtype":"m.file","body":"quarterly report.pdf","url":"mxc://example.org/Rk2QpZ","info":{"mimetype":"application/pdf","size":30}}`),
	))
	e.fetch(t, "mxc://example.org/Rk2QpZ", "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
	doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	a := doc.Find(`a.media[href="/media/example.org/Rk2QpZ"]`)
	if dl, _ := a.Attr("download"); dl != "quarterly report.pdf" {
		t.Errorf("the file's link: download=%q; want %q", dl, "quarterly report.pdf")
	}
}
