package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// Sitemaps (sitemaps.org protocol 0.9): /sitemap.xml is an index with one
// sitemap per shown room, /sitemap/{room}.xml lists the room's day pages
// that have messages, and /robots.txt names the index. Hidden rooms are in
// none of them: the index lists what the directory lists, and a room's
// sitemap answers like its pages (410 for a room no longer shown), or 404
// for a room that asks not to be listed (listing.go) or whose pages carry
// noindex (roomRobots: search engines are offered no page they are told
// not to index).
//
// A room's sitemap lists the days that have messages (store.RoomDays) up
// to the end of tomorrow (sitemapHorizon): never more than the days since
// 1970, fewer than the protocol's 50,000 until 2106, so every room has one
// sitemap, however its messages are stamped, and no room can take another's
// place in the index, which also orders rooms by their latest message no
// later than now.
//
// lastmod: a day page changes with any change to its room (a message, edit,
// reaction, redaction, takedown, purge, the room's name: each feeds the
// room's change-feed position, store.ReadState) or to what screening hides
// (an opt-out or erasure: ReadState.Screened), so a room's day pages carry
// the time stored with the later of those two feed positions: never before
// the page last changed, never after the answer, and never going back as
// the feed moves on. A room whose messages expire with the clock (which
// feeds nothing) has its first listed day, the one expiry changes, at now.
// The index carries no lastmod: a room's sitemap changes with all that,
// which the index cannot read cheaply for every room.

const sitemapNS = "http://www.sitemaps.org/schemas/sitemap/0.9"

// sitemapMaxURLs is the protocol's limit of entries in one sitemap or
// sitemap index.
const sitemapMaxURLs = 50000

type sitemapIndex struct {
	XMLName  xml.Name       `xml:"sitemapindex"`
	NS       string         `xml:"xmlns,attr"`
	Sitemaps []sitemapEntry `xml:"sitemap"`
}

type sitemapEntry struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod,omitempty"`
}

type urlSet struct {
	XMLName xml.Name       `xml:"urlset"`
	NS      string         `xml:"xmlns,attr"`
	URLs    []sitemapEntry `xml:"url"`
}

// lastModLayout is the W3C datetime sitemaps use, to the millisecond: a
// change stored in the same second as the one before it still moves
// lastmod on.
const lastModLayout = "2006-01-02T15:04:05.000Z07:00"

// lastMod writes a timestamp (ms) in the W3C datetime form sitemaps use.
func lastMod(ms int64) string {
	if ms <= 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(lastModLayout)
}

// sitemapHorizon is the end (ms, exclusive) of the days sitemaps list:
// midnight UTC after tomorrow. A day page further on can only hold
// messages stamped ahead of the clock; tomorrow is kept for a sender
// whose clock runs a little fast around midnight.
func sitemapHorizon(now time.Time) int64 {
	return now.UTC().Truncate(24 * time.Hour).Add(48 * time.Hour).UnixMilli()
}

// sitemapPath is the path of a room's sitemap.
func sitemapPath(r store.Room) string {
	return "/sitemap/" + pathSegment(slug(r)) + ".xml"
}

// pagesNoindex reports whether the room's pages carry noindex (or none),
// by the very rule they are served with (roomRobots), leaving the
// response's own headers as they were.
func (s *Server) pagesNoindex(c echo.Context, r store.Room) (bool, error) {
	h := c.Response().Header()
	prev, had := h["X-Robots-Tag"]
	robots, _, err := s.roomRobots(c, r)
	if had {
		h["X-Robots-Tag"] = prev
	} else {
		h.Del("X-Robots-Tag")
	}
	if err != nil {
		return false, err
	}
	return noindex(robots), nil
}

// noindex reports whether a robots rule (robotsRule) says noindex or none.
func noindex(robots string) bool {
	for _, rule := range strings.Split(robots, ",") {
		if rule = strings.TrimSpace(rule); rule == "noindex" || rule == "none" {
			return true
		}
	}
	return false
}

// roomChangedAt is the time (ms) of the room's latest change as its pages
// see it: the later of its newest change-feed position and where screening
// stands (ReadState), read at that position; 0 when the feed holds neither.
func (s *Server) roomChangedAt(ctx context.Context, rs store.ReadState) (int64, error) {
	pos := max(rs.RoomHead, rs.Screened)
	if pos <= 0 {
		return 0, nil
	}
	ch, err := s.store.Changes(ctx, pos-1, 1)
	if err != nil {
		return 0, err
	}
	if len(ch) == 0 {
		return 0, nil
	}
	return ch[0].At.UnixMilli(), nil
}

func (s *Server) sendXML(c echo.Context, v any) error {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", " ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode sitemap: %w", err)
	}
	b.WriteByte('\n')
	return s.sendCached(c, http.StatusOK, echo.MIMEApplicationXMLCharsetUTF8, b.Bytes(), time.Time{})
}

// sitemapIndex serves /sitemap.xml: every room the directory shows whose
// pages may be indexed, most recently active first (a latest message
// stamped after now counts as now). An archive with more than
// sitemapMaxURLs rooms lists the most active ones.
func (s *Server) sitemapIndex(c echo.Context) error {
	if err := s.needBaseURL(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		return err
	}
	if rooms, err = s.listed(ctx, rooms); err != nil {
		return err
	}
	now := s.now().UnixMilli()
	slices.SortStableFunc(rooms, func(a, b store.Room) int {
		return cmp.Compare(min(b.LastTS, now), min(a.LastTS, now))
	})
	// Every room's robots rule from one read of their controls, not a
	// read a room.
	controls, err := s.store.ArchiveControls(ctx, roomIDs(rooms))
	if err != nil {
		return err
	}
	idx := sitemapIndex{NS: sitemapNS, Sitemaps: []sitemapEntry{}}
	for _, r := range rooms {
		if len(idx.Sitemaps) == sitemapMaxURLs {
			break
		}
		if noindex(robotsRule(r, controls[r.ID])) {
			continue
		}
		idx.Sitemaps = append(idx.Sitemaps, sitemapEntry{Loc: s.absolute(sitemapPath(r))})
	}
	return s.sendXML(c, idx)
}

// roomSitemap serves /sitemap/{room}.xml: the room's day pages that have
// messages to show (store.RoomDays) up to sitemapHorizon, oldest first,
// with lastmod as the package comment says. The room resolves as on its
// pages: 404 unknown, 410 no longer shown, and a non-canonical name
// redirects; 404 too for a room that asks not to be listed or whose pages
// carry noindex.
func (s *Server) roomSitemap(c echo.Context) error {
	raw, err := param(c, "room")
	if err != nil {
		return err
	}
	if err := s.needBaseURL(); err != nil {
		return err
	}
	name, ok := strings.CutSuffix(raw, ".xml")
	if !ok || name == "" {
		return notFound("Room sitemaps are at /sitemap/{room}.xml.")
	}
	r, canonical, err := s.resolveRoomSlug(c, name)
	if err != nil {
		return err
	}
	if latestTS(r) == 0 {
		return notFound("The archive has no public messages of %s yet.", roomName(r))
	}
	ctx := c.Request().Context()
	unlisted, err := s.unlisted(ctx, []id.RoomID{r.ID})
	if err != nil {
		return err
	}
	if unlisted[r.ID] {
		return notFound("%s asks archives not to list it (m.room.archive_controls), so it has no sitemap; its pages are still reachable by link.", roomName(r))
	}
	noindex, err := s.pagesNoindex(c, r)
	if err != nil {
		return err
	}
	if noindex {
		return notFound("The pages of %s are not offered to search engines (noindex), so it has no sitemap; they are still reachable by link.", roomName(r))
	}
	if q := c.QueryParam("page"); q != "" {
		p, err := strconv.Atoi(q)
		if err != nil || p < 1 {
			return badRequest("%q is not a page number; pages are numbered from 1.", truncateRunes(q, 40))
		}
		if p > 1 {
			return notFound("This room's sitemap has 1 page.")
		}
	}
	if !canonical {
		return canonicalRedirect(c, sitemapPath(r))
	}
	// Where the room stands before its days are read: a change committed
	// meanwhile is in the days but not in lastmod, which the next answer
	// then moves on.
	rs, err := s.store.ReadState(ctx, r.ID)
	if err != nil {
		return err
	}
	changed, err := s.roomChangedAt(ctx, rs)
	if err != nil {
		return err
	}
	now := s.now()
	days, err := s.store.RoomDays(ctx, r.ID, 0, sitemapHorizon(now), sitemapMaxURLs)
	if err != nil {
		return err
	}
	set := urlSet{NS: sitemapNS, URLs: make([]sitemapEntry, 0, len(days))}
	for i, d := range days {
		mod := changed
		if i == 0 && rs.Cutoff > 0 {
			// Expiry changes the first day shown (its messages, or its
			// link back to a day gone) as the clock moves, feeding nothing.
			mod = max(mod, now.UnixMilli())
		}
		set.URLs = append(set.URLs, sitemapEntry{
			Loc:     s.absolute(roomPath(r, d.Start.Format(dateLayout))),
			LastMod: lastMod(mod),
		})
	}
	return s.sendXML(c, set)
}

// needBaseURL refuses sitemaps to an archive without base_url: the
// protocol wants absolute URLs, and the request's Host is no source for
// them (absolute).
func (s *Server) needBaseURL() error {
	if s.opts.BaseURL == "" {
		return notFound("This archive has no sitemaps: its operator has not set web.base_url, which sitemaps need for their absolute URLs.")
	}
	return nil
}

// robots lets crawlers read the pages but not search results (endless,
// and costly), feeds (the pages again) or the API, and names the sitemap index when there is one.
func (s *Server) robots(c echo.Context) error {
	body := "User-agent: *\n" +
		"Disallow: /api/\n" +
		"Disallow: /search\n" +
		"Disallow: /room/*/feed.atom\n" +
		"Disallow: /room/*/meetings.atom\n" +
		"Allow: /\n"
	if s.opts.BaseURL != "" {
		body += "\nSitemap: " + s.absolute("/sitemap.xml") + "\n"
	}
	return s.sendCached(c, http.StatusOK, "text/plain; charset=utf-8", []byte(body), time.Time{})
}
