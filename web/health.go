package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
)

// healthz says the process is alive and serving HTTP. It does not touch
// the database: a supervisor restarting every replica during a database
// outage would only add a cold start to it. /readyz is the deeper check.
func (s *Server) healthz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.String(http.StatusOK, "ok\n")
}

// readyz says this replica can serve readers: the database answers and
// the search index is within ReadyIndexLag changes of the change feed (a
// replica rebuilding or catching up would answer searches with old results).
func (s *Server) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	c.Response().Header().Set("Cache-Control", "no-store")
	if err := s.store.Ping(ctx); err != nil {
		return &httpError{code: http.StatusServiceUnavailable, msg: "The database is not answering.", err: err}
	}
	if s.opts.IndexPosition == nil {
		return c.String(http.StatusOK, "ready\n")
	}
	head, err := s.store.FeedHead(ctx)
	if err != nil {
		return &httpError{code: http.StatusServiceUnavailable, msg: "The database is not answering.", err: err}
	}
	pos, err := s.opts.IndexPosition()
	if err != nil {
		s.log.Warn("readiness: reading the index position", "err", err)
		return c.String(http.StatusServiceUnavailable, "not ready: the search index cannot report its position\n")
	}
	if lag := head - pos; lag > s.opts.ReadyIndexLag {
		return c.String(http.StatusServiceUnavailable, fmt.Sprintf("not ready: the search index is %d changes behind the change feed (allowed %d)\n", lag, s.opts.ReadyIndexLag))
	}
	return c.String(http.StatusOK, "ready\n")
}
