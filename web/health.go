package web

import (
	"fmt"
	"net/http"
	"strconv"

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
// the search index has caught up with the change feed since the process
// started (within ReadyIndexLag changes of it: a replica starting,
// rebuilding its index from nothing or catching up after a stop would
// answer searches with old results). Once caught up, a lag no longer
// takes the replica out, and the answer says how far behind it is: an
// import of a million messages puts every replica's index behind the
// feed at once, and a load balancer that took them all out left readers
// with nothing for the half minute of the catch-up, though every page
// was served. ?index_lag=N asks for the strict check instead (ready only
// while the index is at most N changes behind): the bench's "searchable"
// and scripts waiting for an import to be searchable use it.
func (s *Server) readyz(c echo.Context) error {
	ctx := c.Request().Context()
	c.Response().Header().Set("Cache-Control", "no-store")
	allowed, strict := s.opts.ReadyIndexLag, false
	if q := c.QueryParam("index_lag"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n < 0 {
			return badRequest("?index_lag= takes how many changes the search index may be behind the change feed, a whole number from 0.")
		}
		allowed, strict = n, true
	}
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
	lag := head - pos
	if lag <= s.opts.ReadyIndexLag {
		s.caughtUp.Store(true)
	}
	switch {
	case lag <= allowed:
		return c.String(http.StatusOK, "ready\n")
	case strict || !s.caughtUp.Load():
		return c.String(http.StatusServiceUnavailable, fmt.Sprintf("not ready: the search index is %d changes behind the change feed (allowed %d)\n", lag, allowed))
	}
	return c.String(http.StatusOK, fmt.Sprintf("ready: the search index is %d changes behind the change feed, catching up (it had caught up since the start)\n", lag))
}
