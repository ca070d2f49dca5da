package web

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
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
// for a room that asks not to be listed (listing.go).

const sitemapNS = "http://www.sitemaps.org/schemas/sitemap/0.9"

// sitemapMaxURLs is the protocol's limit of entries in one sitemap or
// sitemap index.
const sitemapMaxURLs = 50000

const dayMS = int64(24 * time.Hour / time.Millisecond)

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

// lastMod writes a timestamp (ms) in the W3C datetime form sitemaps use.
func lastMod(ms int64) string {
	if ms <= 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// sitemapPages is how many sitemaps a room's days take. Page p covers
// sitemapMaxURLs consecutive days from the day of the room's first message
// (the first page also everything before, the last everything after), so
// no page can list more than the protocol allows and the index needs no
// query to know the pages. Only a room whose timestamps span more than 136
// years has a second page.
func sitemapPages(r store.Room) int {
	first, last := r.FirstTS/dayMS, r.LastTS/dayMS
	if last <= first {
		return 1
	}
	return int((last-first)/sitemapMaxURLs) + 1
}

// sitemapRange is the [from, to) in ms that page p (from 1) of a room's
// sitemap covers.
func sitemapRange(r store.Room, p, pages int) (from, to int64) {
	first := r.FirstTS / dayMS
	from, to = (first+int64(p-1)*sitemapMaxURLs)*dayMS, (first+int64(p)*sitemapMaxURLs)*dayMS
	if p == 1 {
		from = 0
	}
	if p == pages {
		to = math.MaxInt64
	}
	return from, to
}

// sitemapPath is the path of page p of a room's sitemap.
func sitemapPath(r store.Room, p int) string {
	path := "/sitemap/" + pathSegment(slug(r)) + ".xml"
	if p > 1 {
		path += "?page=" + strconv.Itoa(p)
	}
	return path
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

// sitemapIndex serves /sitemap.xml: every room the directory shows, most
// recently active first, with the time of its latest message. An archive
// with more than sitemapMaxURLs room sitemaps lists the most active ones.
func (s *Server) sitemapIndex(c echo.Context) error {
	if err := s.needBaseURL(); err != nil {
		return err
	}
	rooms, err := s.store.Rooms(c.Request().Context())
	if err != nil {
		return err
	}
	if rooms, err = s.listed(c.Request().Context(), rooms); err != nil {
		return err
	}
	idx := sitemapIndex{NS: sitemapNS, Sitemaps: []sitemapEntry{}}
	for _, r := range rooms {
		pages := sitemapPages(r)
		for p := 1; p <= pages && len(idx.Sitemaps) < sitemapMaxURLs; p++ {
			e := sitemapEntry{Loc: s.absolute(sitemapPath(r, p))}
			if p == pages {
				e.LastMod = lastMod(r.LastTS)
			}
			idx.Sitemaps = append(idx.Sitemaps, e)
		}
	}
	return s.sendXML(c, idx)
}

// roomSitemap serves /sitemap/{room}.xml: the room's day pages that have
// messages to show (store.RoomDays), oldest first, each with the time of
// its latest message. The room resolves as on its pages: 404 unknown, 410
// no longer shown, and a non-canonical name redirects.
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
	if r.LastTS == 0 {
		return notFound("The archive has no public messages of %s yet.", roomName(r))
	}
	unlisted, err := s.unlisted(c.Request().Context(), []id.RoomID{r.ID})
	if err != nil {
		return err
	}
	if unlisted[r.ID] {
		return notFound("%s asks archives not to list it (m.room.archive_controls), so it has no sitemap; its pages are still reachable by link.", roomName(r))
	}
	pages, p := sitemapPages(r), 1
	if q := c.QueryParam("page"); q != "" {
		if p, err = strconv.Atoi(q); err != nil || p < 1 {
			return badRequest("%q is not a page number; pages are numbered from 1.", truncateRunes(q, 40))
		}
		if p > pages {
			return notFound("This room's sitemap has %d page(s).", pages)
		}
	}
	if !canonical {
		return canonicalRedirect(c, sitemapPath(r, p))
	}
	from, to := sitemapRange(r, p, pages)
	days, err := s.store.RoomDays(c.Request().Context(), r.ID, from, to, sitemapMaxURLs)
	if err != nil {
		return err
	}
	set := urlSet{NS: sitemapNS, URLs: make([]sitemapEntry, 0, len(days))}
	for _, d := range days {
		set.URLs = append(set.URLs, sitemapEntry{
			Loc:     s.absolute(roomPath(r, d.Start.Format(dateLayout))),
			LastMod: lastMod(d.LastTS),
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
