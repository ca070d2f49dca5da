package web

import "time"

// CacheBytes is what the render cache holds now, for tests of its bound.
func (s *Server) CacheBytes() int64 { return s.cache.bytes() }

// SetNow sets the server's clock, for tests of what a page shows of the
// date (today's live page, a citation's access date).
func (s *Server) SetNow(now func() time.Time) { s.now = now }
