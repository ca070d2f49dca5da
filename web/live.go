package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// liveItems answers archive.js's poll on the current day's page
// (?fragment=items&after=<event ID>): the items after that event as an
// HTML fragment written as the page writes its items, and in X-Live-Since
// the event to continue after. It renders the same view as the page, so
// it shows exactly what a reload would.
func (s *Server) liveItems(c echo.Context, v dayView, q *renderQueue) error {
	if err := s.run(c.Request().Context(), q); err != nil {
		return err
	}
	b := timelineItems(v.Items)
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	// The last item's event, else the one asked after: a busy day's
	// poll continues page after page.
	since := v.LastID
	if since == "" {
		since = c.QueryParam("after")
	}
	if since != "" {
		h.Set("X-Live-Since", liveSince(since))
	}
	return c.HTMLBlob(http.StatusOK, []byte(b))
}

// liveSince is an event ID as X-Live-Since carries it: printable ASCII
// as it is, '%' and every other byte percent-escaped, which archive.js
// decodes (decodeURIComponent). fetch reads a header's bytes as Latin-1,
// so a non-ASCII ID (room versions 1 and 2 let the homeserver choose any)
// came back as another ID, every later poll was a 400, and the page
// stopped updating. Not url.PathEscape: the '/' of room version 3's IDs
// would change, and a page loaded before this, whose script does not
// decode, continues after the header's ID as it reads it.
func liveSince(id string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		if c := id[i]; c > ' ' && c < 0x7f && c != '%' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
