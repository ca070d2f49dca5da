package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// Page keys: a repeated text log, JSON day, HTML day page, permalink or
// thread page answered without loading it.
// The key is a hash of everything such a response depends on that can
// change: the room's newest change-feed position and where screening
// stands (store.ReadState: every event, edit, redaction, takedown and
// expiry purge of the room feeds the one, every opt-out, hidden room and
// policy change the other; changes to other rooms neither),
// the room's own row (names, aliases, visibility: read anyway to resolve
// the room) and its via servers. What changes with no feed entry is kept
// out instead: a room whose messages expire as the clock moves (its
// cutoff is not 0) gets no key, and a response whose messages' media
// state was looked up (fetches and refusals feed nothing) is not
// remembered under one. An HTML page's key also holds what its header
// shows that the feed does not follow (htmlPageKey), and its entry the
// other rooms its timeline links to, read again before it answers. The key leads to the response's ETag and the
// cache key of its body, both in the render cache; a body evicted since
// means loading the page as before.

// pageKeyName is the request's page key in the echo context, read when
// the response's ETag is known.
const pageKeyName = "mxarchive.pagekey"

// headerReads are what an HTML page's key read of its room's header
// (htmlPageKey), kept in the request's context so that building the page
// reads none of it again: the linked rooms and the sync state, 2–4
// queries of a page's first request (headerOf).
type headerReads struct {
	room  id.RoomID
	links roomLinks
	sync  store.RoomSync
}

type headerKey struct{}

// headerOf is what the request's page key read of room's header, if it
// read it.
func headerOf(ctx context.Context, room id.RoomID) (*headerReads, bool) {
	h, ok := ctx.Value(headerKey{}).(*headerReads)
	return h, ok && h.room == room
}

// pageEntry is what answers a page key.
type pageEntry struct {
	code          int
	contentType   string
	etag, bodyKey string
	robots        string // the X-Robots-Tag the response carried
	// rooms are the other rooms the page showed (a tombstone's successor),
	// each with roomFact as it was read: checked again before the entry
	// answers, since a room's row may change with no entry in the feed.
	rooms map[id.RoomID]string
}

// pageKey is the key of the response to c for room r (route and the query
// parameters it reads), or "" when the response may not be kept under one.
func (s *Server) pageKey(c echo.Context, r store.Room, route string, params ...string) (string, error) {
	return s.keyWith(c, r, false, route, params...)
}

// htmlPageKey is pageKey for an HTML page of room r, whose header also
// shows what the feed does not follow: the date (today's page is live, a
// citation gives the day it was read), the archiver's sync state (the
// history note) and the linked rooms (predecessor, imported IRC history,
// successor: read here as the header reads them). Each goes into the key.
func (s *Server) htmlPageKey(c echo.Context, r store.Room, route string, params ...string) (string, error) {
	return s.keyWith(c, r, true, route, params...)
}

// keyWith is the page key of c for room r; header adds what an HTML
// page's header shows (htmlPageKey).
func (s *Server) keyWith(c echo.Context, r store.Room, header bool, route string, params ...string) (string, error) {
	if s.cache == nil {
		return "", nil
	}
	ctx := c.Request().Context()
	rs, err := s.store.ReadState(ctx, r.ID)
	if err != nil {
		return "", err
	}
	if rs.Cutoff > 0 {
		// Messages of this room expire with the passage of time, which
		// the change feed does not record.
		return "", nil
	}
	room, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("page key of %s: %w", r.ID, err)
	}
	// h hashes what the response is built from, with where screening
	// stands as the same digest in every process; the key adds this
	// process's own screening position (ReadState.Screened) and the
	// times it found the feed gone back, after which positions repeat.
	h := sha256.New()
	writeField(h, route, string(r.ID), strconv.FormatInt(rs.RoomHead, 10), rs.Screening, string(room), strings.Join(s.viaServers(ctx, r), " "))
	if header {
		l := s.roomLinksWith(ctx, r, rs.ImportedPredecessor)
		links, err := json.Marshal(struct {
			Predecessor, Successor *store.Room
		}{l.predecessor, l.successor})
		if err != nil {
			return "", fmt.Errorf("page key of %s: %w", r.ID, err)
		}
		writeField(h, s.now().UTC().Format(dateLayout), buildHistoryNote(rs.Sync), string(links))
		// The page built next shows what the key was made of, without
		// reading it again (headerOf).
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), headerKey{}, &headerReads{room: r.ID, links: l, sync: rs.Sync})))
	}
	for _, p := range params {
		writeField(h, p, c.QueryParam(p))
	}
	tag := hex.EncodeToString(h.Sum(nil))
	c.Set(pageTagName, tag)
	key := sha256.New()
	writeField(key, tag, strconv.FormatInt(rs.Screened, 10), strconv.FormatInt(rs.FeedWentBack, 10))
	return "pagekey " + hex.EncodeToString(key.Sum(nil)), nil
}

// servePageKey answers c from the entry under key, when there is one and
// its body is still cached; served is false otherwise.
func (s *Server) servePageKey(c echo.Context, key string, day time.Time) (served bool, err error) {
	if key == "" {
		return false, nil
	}
	e, ok := s.cache.get(key)
	ok = ok && e.page != nil
	var body cached
	if ok {
		body, ok = s.cache.get(e.page.bodyKey)
	}
	if !ok {
		s.opts.Metrics.cacheLookup("pagekey", false)
		c.Set(pageKeyName, key)
		return false, nil
	}
	p := e.page
	for other, fact := range p.rooms {
		room, err := s.store.Room(c.Request().Context(), other)
		if roomFact(room, err) != fact {
			// Remembered anew once this request has built the page.
			s.opts.Metrics.cacheLookup("pagekey", false)
			c.Set(pageKeyName, key)
			return false, nil
		}
	}
	s.opts.Metrics.cacheLookup("pagekey", true)
	if p.robots != "" {
		c.Response().Header().Set("X-Robots-Tag", p.robots)
	}
	return true, s.sendValidated(c, p.code, p.contentType, p.etag, day, func() (respBody, error) { return s.cache.send(e.page.bodyKey, body) })
}

// pageTagName is, in the echo context, the hash of what the request's
// response is built from that its page key holds, but equal in every
// process (keyWith): the validator makes the ETag from it.
const pageTagName = "mxarchive.pagetag"

// requestPageKey is the request's page key when it has one that missed
// (servePageKey), else "".
func requestPageKey(c echo.Context) string {
	key, _ := c.Get(pageKeyName).(string)
	return key
}

// requestPageTag is the request's page tag (pageTagName), "" for none.
func requestPageTag(c echo.Context) string {
	tag, _ := c.Get(pageTagName).(string)
	return tag
}

// rememberPage keeps under the request's page key, if it has one, what
// answers it, unless the response showed media state.
func (s *Server) rememberPage(c echo.Context, code int, contentType, etag, bodyKey string, q *renderQueue) {
	key := requestPageKey(c)
	if key == "" || q.mediaLooked {
		return
	}
	s.cache.put(key, cached{page: &pageEntry{code: code, contentType: contentType, etag: etag, bodyKey: bodyKey,
		robots: c.Response().Header().Get("X-Robots-Tag"), rooms: q.rooms}})
}

// roomFact is what a page shows of another room read with err: its row
// while it is shown, else nothing.
func roomFact(r store.Room, err error) string {
	if err != nil || !r.Shown() {
		return ""
	}
	b, _ := json.Marshal(r) // a Room always encodes
	return string(b)
}
