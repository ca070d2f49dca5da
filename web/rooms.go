package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// slug is how a room appears in URLs: its canonical alias without the '#'
// when that alias routes to it (the store's Alias: verified, and no other
// room's), else its room ID with the '!'. A room's slug can change (a new
// alias, an alias handed to another room), so canonicalising to it is a
// temporary redirect (canonicalRedirect). An alias whose slug would read
// as a room ID ('#!…') or as a refused '#' ('##…') is not used.
func slug(r store.Room) string {
	if a := r.Alias; strings.HasPrefix(a, "#") && len(a) > 1 && a[1] != '!' && a[1] != '#' {
		return a[1:]
	}
	return string(r.ID)
}

// pathSegment escapes one path segment as url.PathEscape does, but keeps
// '!' (valid in a path, and how people read room IDs) unescaped
// (TestPathSegmentAsPathEscape).
func pathSegment(s string) string {
	n := escapedLen(s)
	if n == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(n)
	writePathSegment(&b, s)
	return b.String()
}

// escapedLen is the length of s as a path segment.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if segmentEscaped[s[i]] {
			n += 2
		}
	}
	return n
}

// segmentEscaped says which bytes url.PathEscape escapes, '!' aside.
var segmentEscaped = func() (t [256]bool) {
	for c := range t {
		t[c] = true
	}
	for _, r := range "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&+:=@" {
		t[r] = false
	}
	return t
}()

// writePathSegment writes s escaped, its unescaped runs copied whole.
func writePathSegment(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; segmentEscaped[c] {
			b.WriteString(s[start:i])
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			start = i + 1
		}
	}
	b.WriteString(s[start:])
}

// roomPath is the path of a room's page, with optional further segments,
// built in one allocation: every message of a page has a permalink and
// more, and concatenated piece by piece they were 5% of a day page's first
// request in its CPU profile.
func roomPath(r store.Room, rest ...string) string {
	sl := slug(r)
	n := len("/room/") + escapedLen(sl)
	for _, seg := range rest {
		n += 1 + escapedLen(seg)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("/room/")
	writePathSegment(&b, sl)
	for _, seg := range rest {
		b.WriteByte('/')
		writePathSegment(&b, seg)
	}
	return b.String()
}

// canonicalRedirect sends a request for a room by a stale name (its ID,
// an old alias) to its slug. 302, not 301: a 301 is cacheable by default
// and browsers keep it for good, but a slug changes when the alias does.
// All these routes are GET/HEAD, so 307's keeping of the method adds nothing.
// The query goes along: a busy day's ?after= or ?hour= names the page its
// link's #anchor is on; but for a path that has its own (a sitemap's
// page), which says it already.
func canonicalRedirect(c echo.Context, path string) error {
	if !strings.Contains(path, "?") {
		path = withQuery(path, c.Request().URL.RawQuery)
	}
	return c.Redirect(http.StatusFound, path)
}

func eventPath(r store.Room, ev id.EventID) string { return roomPath(r, "event", string(ev)) }

// eventLinks are the links of one room's events: their permalinks, under
// base (the API's absolute URLs, "" for a page's paths), and their
// matrix.to links. The room's part of each is escaped once, not for every
// event of a day: a thousand eventPath calls were 2% of the CPU of a first
// JSON day (each escaping the room's slug and joining three segments).
type eventLinks struct {
	prefix string // base, then roomPath(r, "event") and "/"
	// An event's matrix.to link is toPrefix, its ID path-escaped, then
	// toQuery (event.MatrixToEventParts).
	toPrefix, toQuery string
	// The three as JSON writes them, between the quotes
	// (appendJSONLinks).
	prefixJSON, toPrefixJSON, toQueryJSON []byte
}

func newEventLinks(base string, r store.Room, via []string) eventLinks {
	l := eventLinks{prefix: base + roomPath(r, "event") + "/"}
	l.toPrefix, l.toQuery = event.MatrixToEventParts(string(r.ID), via)
	l.prefixJSON = appendJSONChars(nil, l.prefix)
	l.toPrefixJSON = appendJSONChars(nil, l.toPrefix)
	l.toQueryJSON = appendJSONChars(nil, l.toQuery)
	return l
}

// permalink is base followed by eventPath(r, ev).
func (l *eventLinks) permalink(ev id.EventID) string { return l.prefix + pathSegment(string(ev)) }

// matrixTo is ev's matrix.to link (event.MatrixToEvent); "" for a line
// imported from IRC, which no homeserver knows.
func (l *eventLinks) matrixTo(ev id.EventID) string {
	if fromIRC(ev) {
		return ""
	}
	return l.toPrefix + url.PathEscape(string(ev)) + l.toQuery
}

// appendJSONLinks appends ev's permalink and matrix.to link as the JSON
// members "permalink" and "matrix_to", the bytes appendJSONString writes
// for the strings permalink and matrixTo give, without building them:
// making the two strings and the time's was three allocations an event,
// a fifth of a first JSON day's. Each link is escaped in parts, which
// gives the same bytes as escaping it whole since every part but the
// first (which ends in '/') is ASCII: a path segment, a path-escaped ID,
// a query of escaped servers (TestLazyEventLinksAsEager).
func (l *eventLinks) appendJSONLinks(b []byte, ev id.EventID) []byte {
	b = append(append(b, `,"permalink":"`...), l.prefixJSON...)
	b = append(appendJSONChars(b, pathSegment(string(ev))), `","matrix_to":"`...)
	if fromIRC(ev) {
		return append(b, '"')
	}
	b = appendJSONChars(append(b, l.toPrefixJSON...), url.PathEscape(string(ev)))
	return append(append(b, l.toQueryJSON...), '"')
}

// param returns a path parameter unescaped. Echo routes on the request's
// raw path (URL.RawPath) when Go kept one, that is when the path is not
// escaped as Go would escape its decoded form (an event ID's '/' as %2F),
// and then hands the parameters over as they appear in it; otherwise it
// routes on the decoded path (URL.Path), and they are decoded already.
// Unescaping those again made the room "#per%cent" (its link
// /room/per%25cent) "#per\xcent", a 404, and its permalinks redirect to
// themselves for ever, and it answered /room/a%2541 as the room "#aA".
func param(c echo.Context, name string) (string, error) {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v, nil
	}
	v, err := url.PathUnescape(v)
	if err != nil {
		return "", badRequest("The address is not valid: %s is badly escaped.", name)
	}
	return v, nil
}

// resolveRoom finds the room a URL names, by room ID or alias. It also
// reports whether the URL used the room's canonical slug.
func (s *Server) resolveRoom(c echo.Context) (store.Room, bool, error) {
	raw, err := param(c, "room")
	if err != nil {
		return store.Room{}, false, err
	}
	return s.resolveRoomSlug(c, raw)
}

// resolveRoomSlug is resolveRoom for a room part already taken from the
// URL (unescaped): 400 for a '#', 404 for an unknown room, 410 for one that
// is not shown.
func (s *Server) resolveRoomSlug(c echo.Context, raw string) (store.Room, bool, error) {
	ctx := c.Request().Context()
	var err error
	var roomID id.RoomID
	switch {
	case strings.HasPrefix(raw, "!"):
		roomID = id.RoomID(raw)
	case strings.HasPrefix(raw, "#"):
		return store.Room{}, false, badRequest("Write the room alias without its '#', for example /room/%s.", pathSegment(raw[1:]))
	default:
		roomID, err = s.store.RoomIDByAlias(ctx, "#"+raw)
		if errors.Is(err, store.ErrNotFound) {
			return store.Room{}, false, notFound("This archive has no room %s.", "#"+raw)
		}
		if err != nil {
			return store.Room{}, false, err
		}
	}
	// The page's key reads the room's state next (pageKey): in the same
	// query as its row.
	r, err := s.store.RoomToRead(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Room{}, false, notFound("This archive has no room %s.", raw)
	}
	if err != nil {
		return store.Room{}, false, err
	}
	if !r.Shown() {
		return store.Room{}, false, &httpError{code: http.StatusGone, msg: roomGone(r)}
	}
	return r, raw == slug(r), nil
}

// viaCache remembers each room's matrix.to via servers for a while:
// computing them reads every member event of the room (17,778 of them,
// 0.1-0.4 s, in a 300,000-message IRC channel). Past its time an entry is
// still served, and the request that found it so computes it anew after
// its response is sent (viaRefresh). A request that finds no entry reads
// at most viaPageMembers of the room's member events (firstVia): a room
// with more is answered with fallbackVia's server and computed after the
// response too, so no page waits for the computation.
type viaCache struct {
	ttl   time.Duration
	mu    sync.Mutex
	rooms map[id.RoomID]viaEntry
	// computing: the rooms whose via servers are being read now, each
	// closed when done. A second asker waits for the first instead of
	// reading the room's member events again beside it: after a start,
	// WarmVia and a busy room's first page asked at once, each reading
	// all of its member events (of a 1M archive's busiest room, 18k).
	computing map[id.RoomID]*viaFlight
}

type viaFlight struct {
	done    chan struct{}
	servers []string
	err     error
}

type viaEntry struct {
	servers    []string
	expires    time.Time
	refreshing bool // a request has taken it to compute anew
}

// fresh is whether e is still within its time at now.
func (e viaEntry) fresh(now time.Time) bool { return now.Before(e.expires) }

func newViaCache(ttl time.Duration) *viaCache {
	return &viaCache{ttl: ttl, rooms: map[id.RoomID]viaEntry{}, computing: map[id.RoomID]*viaFlight{}}
}

// viaRefresh is, in a request's context, the rooms whose via servers it
// computes anew once its response is sent (Server.timeout).
type viaRefresh struct {
	mu    sync.Mutex
	rooms []store.Room
}

func (v *viaRefresh) add(r store.Room) {
	v.mu.Lock()
	v.rooms = append(v.rooms, r)
	v.mu.Unlock()
}

type viaRefreshKey struct{}

func (s *Server) viaServers(ctx context.Context, r store.Room) []string {
	refresh, _ := ctx.Value(viaRefreshKey{}).(*viaRefresh)
	s.via.mu.Lock()
	e, ok := s.via.rooms[r.ID]
	later := ok && !e.fresh(s.now()) && !e.refreshing && refresh != nil
	if later {
		e.refreshing = true
		s.via.rooms[r.ID] = e
	}
	s.via.mu.Unlock()
	if later {
		refresh.add(r)
	}
	if ok && (later || e.refreshing || e.fresh(s.now())) {
		return e.servers
	}
	if !ok && refresh != nil {
		if servers, ok := s.firstVia(ctx, r, refresh); ok {
			return servers
		}
	}
	return s.storeVia(ctx, r)
}

// viaPageMembers is how many member events a request reads for a room
// whose via servers are not known (after a start, before WarmVia came to
// it): a room of the 1M replay's busy channels has 17,778, whose reading
// made the first page of each after a start cost 0.1-0.4 s, and a
// channel bridged from IRC for years has many more. 200 cost about 1 ms.
const viaPageMembers = 200

// firstVia is a request's via servers for a room with none known: the
// room's own when it has at most s.viaPageMembers member events (read now
// and kept for the cache's ttl), else fallbackVia's, kept as out of date
// and being refreshed, so that this request computes the room's own after
// its response has gone out (refreshVia) and the requests meanwhile are
// answered with them too. A page's key holds its via servers, so nothing
// cached with the stand-in outlives it. ok is false when the store
// failed; the caller computes them as before.
func (s *Server) firstVia(ctx context.Context, r store.Room, refresh *viaRefresh) ([]string, bool) {
	members, complete, err := s.store.JoinedMembersUpTo(ctx, r.ID, s.viaPageMembers)
	var servers []string
	if err == nil && complete {
		servers, err = s.viaOf(ctx, r, members)
	}
	if err != nil {
		return nil, false
	}
	s.via.mu.Lock()
	defer s.via.mu.Unlock()
	if e, ok := s.via.rooms[r.ID]; ok { // another request, or WarmVia, was first
		return e.servers, true
	}
	if complete {
		s.via.rooms[r.ID] = viaEntry{servers: servers, expires: s.now().Add(s.via.ttl)}
		return servers, true
	}
	servers = fallbackVia(r)
	s.via.rooms[r.ID] = viaEntry{servers: servers, refreshing: true} // expired: the zero time
	refresh.add(r)
	return servers, true
}

// storeVia computes r's via servers and keeps them for the cache's ttl.
func (s *Server) storeVia(ctx context.Context, r store.Room) []string {
	servers, err := s.computeViaOnce(ctx, r)
	if err != nil {
		// A page without via servers still works; log and move on. The
		// servers known before, if any, stay for another while.
		s.log.Warn("computing via servers", "room_id", r.ID, "err", err)
		s.via.mu.Lock()
		defer s.via.mu.Unlock()
		if e, ok := s.via.rooms[r.ID]; ok {
			s.via.rooms[r.ID] = viaEntry{servers: e.servers, expires: s.now().Add(s.via.ttl)}
			return e.servers
		}
		return fallbackVia(r)
	}
	s.via.mu.Lock()
	s.via.rooms[r.ID] = viaEntry{servers: servers, expires: s.now().Add(s.via.ttl)}
	s.via.mu.Unlock()
	return servers
}

// refreshVia computes anew, on a goroutine of its own, the via servers
// the request's pages found out of date or did not have (viaServers), once
// its response is written: the handler returns and net/http ends the
// response, so the client waits for none of this (done in the handler, it
// held back the end of a chunked response, a day page's, until they were
// computed). A room is refreshed by one request at a time (viaEntry's
// refreshing), so this runs at most once a room at a time. A request that
// failed (its answer is yet to be written) leaves them to the next.
func (s *Server) refreshVia(c echo.Context, refresh *viaRefresh, sent bool) {
	refresh.mu.Lock()
	rooms := refresh.rooms
	refresh.mu.Unlock()
	if len(rooms) == 0 {
		return
	}
	if !sent {
		s.via.mu.Lock()
		for _, r := range rooms {
			if e, ok := s.via.rooms[r.ID]; ok {
				e.refreshing = false
				s.via.rooms[r.ID] = e
			}
		}
		s.via.mu.Unlock()
		return
	}
	ctx := context.WithoutCancel(c.Request().Context())
	go func() {
		ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
		defer cancel()
		defer func() {
			// Not the process's end: the rooms keep what they had.
			if p := recover(); p != nil {
				s.log.Error("computing via servers after a response panicked", "panic", p)
			}
		}()
		for _, r := range rooms {
			s.via.mu.Lock()
			e, ok := s.via.rooms[r.ID]
			s.via.mu.Unlock()
			if ok && e.fresh(s.now()) {
				continue // WarmVia computed them meanwhile
			}
			s.storeVia(ctx, r)
		}
	}()
}

// computeViaOnce is computeVia, shared with whoever asks for the same
// room while it runs (viaCache.computing). A computation that failed for
// its own context's sake (a request gone, WarmVia stopped) is no answer
// to an asker whose context is alive: that one computes again.
func (s *Server) computeViaOnce(ctx context.Context, r store.Room) ([]string, error) {
	for {
		s.via.mu.Lock()
		f, running := s.via.computing[r.ID]
		if !running {
			f = &viaFlight{done: make(chan struct{})}
			s.via.computing[r.ID] = f
		}
		s.via.mu.Unlock()
		if !running {
			s.runVia(ctx, r, f)
			return f.servers, f.err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-f.done:
		}
		if f.err == nil || ctx.Err() != nil || !isContextErr(f.err) {
			return f.servers, f.err
		}
	}
}

// runVia computes f for r and lets its waiters go, even if it panics (a
// room's via servers must not wait forever on one bad computation).
func (s *Server) runVia(ctx context.Context, r store.Room, f *viaFlight) {
	f.err = fmt.Errorf("via servers of %s: their computation panicked", r.ID)
	defer func() {
		s.via.mu.Lock()
		delete(s.via.computing, r.ID)
		s.via.mu.Unlock()
		close(f.done)
	}()
	f.servers, f.err = s.computeVia(ctx, r)
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

func (s *Server) computeVia(ctx context.Context, r store.Room) ([]string, error) {
	if s.viaHook != nil {
		s.viaHook(r.ID)
	}
	members, err := s.store.JoinedMembers(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return s.viaOf(ctx, r, members)
}

// viaOf is the via servers of r, whose joined members are members.
func (s *Server) viaOf(ctx context.Context, r store.Room, members []id.UserID) ([]string, error) {
	pl, err := s.store.CurrentState(ctx, r.ID, event.TypePowerLevels, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	acl, err := s.store.CurrentState(ctx, r.ID, event.TypeServerACL, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var creators []id.UserID
	if r.Creator != "" {
		creators = append(creators, r.Creator)
	}
	via := event.ViaServers(pl, members, acl, creators)
	if len(via) == 0 {
		return fallbackVia(r), nil
	}
	return via, nil
}

// fallbackVia is the creator's server: a room with no known members was at
// least on the server that created it.
func fallbackVia(r store.Room) []string {
	if srv := event.ServerName(r.Creator); srv != "" {
		return []string{srv}
	}
	return nil
}

// WarmVia computes ahead the via servers of every shown room that no
// request has needed yet, most recently active first, so that a room's
// first page after a start has them: they are read from every member
// event the room ever had, 0.1 to 0.4 s for a busy channel of the 1M
// replay. It yields to the requests: each room waits for a moment with
// none (waitIdle), so that the first pages after a start do not share the
// machine with it (the first day page of the 1M replay's busiest room took
// 20-41 ms with WarmVia reading beside it, 13-22 without). archive-web
// runs it in the background once it listens; it stops with ctx. A room
// whose servers cannot be read now is left to its first request, which
// tries again.
func (s *Server) WarmVia(ctx context.Context) error {
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		return fmt.Errorf("via servers ahead: %w", err)
	}
	mostRecentFirst(rooms)
	for _, r := range rooms {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.Shown() {
			continue
		}
		if err := s.waitIdle(ctx, viaIdle); err != nil {
			return err
		}
		s.via.mu.Lock()
		_, known := s.via.rooms[r.ID]
		s.via.mu.Unlock()
		if known {
			continue
		}
		servers, err := s.computeViaOnce(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("computing via servers ahead", "room_id", r.ID, "err", err)
			continue
		}
		s.via.mu.Lock()
		// A request may have been first; one that found the room too
		// big to read (firstVia) kept a stand-in, out of date.
		if e, known := s.via.rooms[r.ID]; !known || !e.fresh(s.now()) {
			s.via.rooms[r.ID] = viaEntry{servers: servers, expires: s.now().Add(s.via.ttl)}
		}
		s.via.mu.Unlock()
	}
	return nil
}

// mostRecentFirst sorts rooms by their last event, the latest first (the
// order WarmVia and WarmPages take them in).
func mostRecentFirst(rooms []store.Room) {
	slices.SortStableFunc(rooms, func(a, b store.Room) int { return cmp.Compare(b.LastTS, a.LastTS) })
}

// viaIdle is how long WarmVia waits after a request before its next room.
const viaIdle = 100 * time.Millisecond

// waitIdle returns once no request is being answered and none began or
// ended in the last quiet, or with ctx's error. The server's start counts
// as a request, so that the first requests after it come first.
func (s *Server) waitIdle(ctx context.Context, quiet time.Duration) error {
	for {
		wait := quiet / 4 // while a request is being answered, look again soon
		if s.requests.Load() == 0 {
			if wait = time.Until(time.Unix(0, s.lastRequest.Load()).Add(quiet)); wait <= 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}
