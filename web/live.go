package web

import (
	"net/http"

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
		h.Set("X-Live-Since", since)
	}
	return c.HTMLBlob(http.StatusOK, []byte(b))
}
