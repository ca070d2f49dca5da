package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// mediaCSP replaces the pages' policy on media responses: a file opened
// directly (an SVG, an HTML file someone uploaded as an image) runs in a
// sandbox with no origin and may load nothing, so it can never script the
// archive.
const mediaCSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"

// mediaWriteTimeout bounds sending one media file.
const mediaWriteTimeout = 10 * time.Minute

// MediaPath is the archive's URL path for an mxc URI's copy (server and
// mediaID already validated by event.ParseMXC).
func MediaPath(server, mediaID string) string {
	return "/media/" + server + "/" + mediaID
}

// mediaURL is the absolute URL of the archive's copy of uri, for the text
// log and the API; "" when the archive keeps no media or uri is not a valid
// mxc URI.
func (s *Server) mediaURL(uri string) string {
	m, ok := event.ParseMXC(uri)
	if !ok || s.opts.Media == nil {
		return ""
	}
	return s.absolute(MediaPath(m.Server, m.MediaID))
}

// ThumbnailPath is where an image's thumbnail is served: the archive's own
// thumbnail of a large image, else the image itself.
func ThumbnailPath(server, mediaID string) string {
	return MediaPath(server, mediaID) + "/thumbnail"
}

func (s *Server) media(c echo.Context) error     { return s.serveMedia(c, false) }
func (s *Server) thumbnail(c echo.Context) error { return s.serveMedia(c, true) }

// serveMedia serves the archive's copy of an mxc URI, only while an event that
// may be shown refers to it: checked against the store on every request,
// revalidation included, so a redaction, expiry, opt-out, takedown or
// hidden room answers 410 at once, and no cache may reuse a response
// without asking (no-cache, with the blob's hash as ETag).
func (s *Server) serveMedia(c echo.Context, thumb bool) error {
	if s.opts.Media == nil {
		return notFound("This archive does not keep copies of media.")
	}
	m, ok := event.ParseMXC("mxc://" + c.Param("server") + "/" + c.Param("id"))
	if !ok {
		return badRequest("A media address is /media/{server name}/{media ID}, the media ID made of letters, digits, - and _.")
	}
	ctx := c.Request().Context()
	info, err := s.store.MediaFor(ctx, m)
	if err != nil {
		return err
	}
	switch info.State {
	case store.MediaUnknown:
		return notFound("No archived message refers to this file.")
	case store.MediaGone:
		return &httpError{code: http.StatusGone, msg: "This file is no longer in the archive: the message it belonged to was removed or is no longer shown."}
	case store.MediaPending:
		return notFound("The archive has no copy of this file (not fetched yet, too large, or the homeserver refused it).")
	}
	sha, contentType := info.SHA256, info.ContentType
	if thumb {
		switch {
		case info.ThumbSHA256 != "":
			sha, contentType = info.ThumbSHA256, info.ThumbType
		case !media.IsImage(info.ContentType):
			return notFound("This file is not an image, so it has no thumbnail.")
		}
	}
	f, err := s.opts.Media.Open(ctx, sha)
	if errors.Is(err, media.ErrNotFound) {
		// Deleted by the archiver between the check and the open, or
		// media.dir is not the archiver's directory: either way no copy.
		s.log.Warn("media file missing from the media directory", "mxc", m.String(), "sha256", sha)
		return notFound("The archive has no copy of this file.")
	}
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Security-Policy", mediaCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	if media.Inline(contentType) {
		h.Set("Content-Disposition", "inline")
	} else {
		h.Set("Content-Disposition", "attachment")
	}
	h.Set("ETag", `"`+sha+`"`)
	h.Set("Cache-Control", "public, no-cache")
	// The server's write timeout suits pages; a 50 MiB video to a slow
	// reader needs longer, but not forever. (Recorders in tests cannot.)
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Now().Add(mediaWriteTimeout))
	// ServeContent answers Range (audio and video seek), HEAD, If-Range
	// and the preconditions against the ETag set above, in RFC 9110's
	// order; a range of no bytes it would answer with 206 and nothing
	// (dropZeroSuffixes): a Range of those alone is given to it as one
	// starting at the end, which it answers with 416 once the
	// preconditions and If-Range have had their say (answered here, a
	// current copy's If-None-Match got 416, not 304; a failed If-Match
	// 416, not 412; and with If-Range the 206 of nothing).
	req := c.Request()
	if rng, ok := dropZeroSuffixes(req.Header.Get("Range")); ok {
		if rng == "" {
			size, err := f.Seek(0, io.SeekEnd)
			if err != nil {
				return err
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			rng = "bytes=" + strconv.FormatInt(size, 10) + "-"
		}
		req.Header.Set("Range", rng)
	}
	http.ServeContent(c.Response(), req, "", f.ModTime(), f)
	return nil
}

// dropZeroSuffixes is a Range header's byte ranges without those that ask
// for the last zero bytes ("-0"), and whether there were any: RFC 9110
// (14.1.1) makes a set of byte ranges with no other unsatisfiable, a 416,
// where net/http's ServeContent answered "bytes=-0" with 206 and no body.
// A header that is not of bytes, or has none, is left to ServeContent.
func dropZeroSuffixes(header string) (string, bool) {
	specs, ok := strings.CutPrefix(header, "bytes=")
	if !ok {
		return header, false
	}
	var kept []string
	dropped := false
	for _, spec := range strings.Split(specs, ",") {
		spec = strings.TrimSpace(spec)
		if n, isSuffix := strings.CutPrefix(spec, "-"); isSuffix && n != "" && strings.Trim(n, "0") == "" {
			dropped = true
			continue
		}
		kept = append(kept, spec)
	}
	if !dropped {
		return header, false
	}
	if len(kept) == 0 {
		return "", true
	}
	return "bytes=" + strings.Join(kept, ","), true
}
