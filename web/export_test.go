package web

// CacheBytes is what the render cache holds now, for tests of its bound.
func (s *Server) CacheBytes() int64 { return s.cache.bytes() }
