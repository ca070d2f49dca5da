package web

import (
	"time"

	"maunium.net/go/mautrix/id"
)

// CacheBytes is what the render cache holds now, for tests of its bound.
func (s *Server) CacheBytes() int64 { return s.cache.bytes() }

// SetNow sets the server's clock, for tests of what a page shows of the
// date (today's live page, a citation's access date).
func (s *Server) SetNow(now func() time.Time) { s.now = now }

// SetViaHook has hook called whenever a room's via servers are computed,
// for tests of who computes them.
func (s *Server) SetViaHook(hook func(id.RoomID)) { s.viaHook = hook }

// SetViaPageMembers sets how many member events a request reads for a
// room whose via servers are not known, for tests of a room with more.
func (s *Server) SetViaPageMembers(n int) { s.viaPageMembers = n }

// HoldRequest counts a request as being answered until the function it
// returns is called, for tests of what waits for a quiet moment.
func (s *Server) HoldRequest() (done func()) { return s.beginRequest() }

// TextsRendered is how many plain texts the server has rendered, for
// tests of what a page renders once.
func (s *Server) TextsRendered() int64 { return s.texts.Load() }
