package web

import (
	"encoding/xml"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/store"
)

// Atom feeds (RFC 4287): a room's newest messages and polls, and a
// search's newest matches, so that someone can follow a room or a keyword
// without a Matrix client. Both read the store on every request (a search
// through the Searcher, which re-checks every hit against it), so a
// message deleted, expired or withdrawn leaves the feed at once. A feed's
// and its entries' IDs are URLs on this archive by the room's ID (idPath),
// which answer for good (a stale room part redirects to the slug) and,
// unlike the slug, never change: RFC 4287 wants an ID permanent, and
// readers tell entries apart by it. They need absolute URLs: without
// base_url there are no feeds. Links go to the canonical (slug) URLs.

// feedEntries is how many messages (and polls) a feed lists.
const feedEntries = 50

type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Links   []atomLink  `xml:"link"`
	Author  *atomPerson `xml:"author,omitempty"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomPerson struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomEntry struct {
	ID        string     `xml:"id"`
	Title     string     `xml:"title"`
	Updated   string     `xml:"updated"`
	Published string     `xml:"published"`
	Link      atomLink   `xml:"link"`
	Author    atomPerson `xml:"author"`
	Content   atomText   `xml:"content"`
}

// feedPath is a room's feed.
func feedPath(r store.Room) string { return roomPath(r, "feed.atom") }

// idPath is roomPath by the room's ID, whatever its slug: the path of
// feeds' permanent IDs, which an alias gained or changed must not change
// (a reader would deliver every entry again as new).
func idPath(r store.Room, rest ...string) string {
	return roomPath(store.Room{ID: r.ID}, rest...)
}

func (s *Server) needFeeds() error {
	if s.opts.BaseURL == "" {
		return notFound("This archive has no feeds: its operator has not set web.base_url, which feeds need for their entries' permanent IDs.")
	}
	return nil
}

func (s *Server) roomFeed(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if err := s.needFeeds(); err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, feedPath(r))
	}
	ctx := c.Request().Context()
	evs, err := s.store.LatestMessages(ctx, r.ID, feedEntries)
	if err != nil {
		return err
	}
	f := atomFeed{
		ID: s.absolute(idPath(r, "feed.atom")), Title: fmt.Sprintf("%s · %s", isolated(roomName(r)), s.opts.SiteName),
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: s.absolute(feedPath(r))}, {Rel: "alternate", Type: "text/html", Href: s.absolute(roomPath(r))}},
	}
	rooms := map[id.RoomID]store.Room{r.ID: r}
	return s.sendFeed(c, f, evs, rooms, time.UnixMilli(r.FirstTS))
}

// searchFeed serves /search/feed.atom?q=…: the newest matches of a query.
func (s *Server) searchFeed(c echo.Context) error {
	if err := s.needFeeds(); err != nil {
		return err
	}
	req, err := searchParams(c)
	if err != nil {
		return err
	}
	if !followable(req) {
		return badRequest("A search feed needs words to follow: /search/feed.atom?q=word.")
	}
	// A feed is the newest matches, never a later page of them: a sort or
	// cursor asked for is refused, not silently ignored.
	if req.Sort != "" && req.Sort != indexer.SortNewest {
		return badRequest("A search feed is sorted newest first: leave out sort=%s.", truncateRunes(req.Sort, 40))
	}
	if req.Cursor != "" {
		return badRequest("A search feed has no later pages: leave out cursor.")
	}
	req.Sort, req.Size, req.Cursor = indexer.SortNewest, min(feedEntries, indexer.MaxPageSize), ""
	res, err := s.runSearch(c, req)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	rooms := map[id.RoomID]store.Room{}
	for _, e := range res.Events {
		if _, ok := rooms[e.RoomID]; !ok {
			r, err := s.store.Room(ctx, e.RoomID)
			if err != nil {
				return err
			}
			rooms[e.RoomID] = r
		}
	}
	q := url.Values{"q": {c.QueryParam("q")}}
	if in := c.QueryParam("in"); in != "" {
		q.Set("in", in)
	}
	self := s.absolute("/search/feed.atom?" + q.Encode())
	f := atomFeed{
		ID: self, Title: fmt.Sprintf("Search “%s” · %s", isolated(c.QueryParam("q")), s.opts.SiteName),
		Links: []atomLink{{Rel: "self", Type: "application/atom+xml", Href: self}, {Rel: "alternate", Type: "text/html", Href: s.absolute("/search?" + q.Encode() + "&sort=newest")}},
	}
	return s.sendFeed(c, f, res.Events, rooms, time.Time{})
}

// sendFeed fills f's entries from evs (newest first) and sends it. A feed
// without entries is updated as of since (the room's first message), or
// the Unix epoch: a stable value, so that its ETag is too.
func (s *Server) sendFeed(c echo.Context, f atomFeed, evs []store.Event, rooms map[id.RoomID]store.Room, since time.Time) error {
	ctx := c.Request().Context()
	msgs, err := s.shownTexts(ctx, evs)
	if err != nil {
		return err
	}
	f.Author = &atomPerson{Name: s.opts.SiteName, URI: s.absolute("/")}
	var newest time.Time
	var q renderQueue
	f.Entries = make([]atomEntry, 0, len(evs))
	for _, e := range evs {
		sh := msgs[e.ID]
		var poll event.Poll
		switch {
		case e.PollStart() && !e.Redacted && !e.OptedOut:
			var ok bool
			if poll, ok = event.ParsePoll(e.Content); !ok {
				continue // its page says it cannot be shown (pollView.Invalid)
			}
		case sh == nil || sh.redaction != nil:
			continue
		}
		r := rooms[e.RoomID]
		link := s.absolute(eventPath(r, e.ID))
		entryID := s.absolute(idPath(r, "event", string(e.ID)))
		published := time.UnixMilli(e.OriginTS).UTC()
		updated := published
		if sh != nil && sh.edited && sh.editedAt > e.OriginTS {
			updated = time.UnixMilli(sh.editedAt).UTC()
		}
		newest = later(newest, updated)
		f.Entries = append(f.Entries, atomEntry{
			ID: entryID, Updated: updated.Format(time.RFC3339), Published: published.Format(time.RFC3339),
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: link},
			Author:  atomPerson{Name: attributedName(e.SenderName, e.Sender)},
			Content: atomText{Type: "html"},
		})
		en := &f.Entries[len(f.Entries)-1]
		if !fromIRC(e.ID) { // an IRC line's sender is no homeserver's user
			en.Author.URI = "https://matrix.to/#/" + url.PathEscape(string(e.Sender))
		}
		// A title is plain text, where no element isolates a name
		// holding right-to-left text or a bidi control from the words
		// around it (isolated), as a page's <title>. The name is
		// attributedName's: "@a:example.org in …" was @mallory's entry.
		author, room := isolated(en.Author.Name), isolated(roomName(r))
		if sh == nil {
			en.Title = fmt.Sprintf("%s in %s: Poll: %s", author, room, isolated(excerpt(poll.Question, 80)))
			en.Content.Body = pollFeedHTML(poll)
			continue
		}
		q.text(sh.msg, 80, func(t string) { en.Title = fmt.Sprintf("%s in %s: %s", author, room, isolated(t)) })
		// The sanitized HTML from render, carried as escaped text
		// (type="html"): feed readers sanitize again, and the XML cannot
		// be broken by it.
		q.htmlInto(sh.msg, &en.Content.Body, nil)
	}
	if newest.IsZero() {
		newest = since
		if since.UnixMilli() <= 0 {
			newest = time.Unix(0, 0)
		}
	}
	f.Updated = newest.UTC().Format(time.RFC3339)
	if err := s.run(ctx, &q); err != nil {
		return err
	}
	return s.writeFeed(c, f)
}

// pollFeedHTML is a poll's entry in a feed: its question and answers, the
// text escaped. Its votes change after the entry is read, so they are
// left to the poll's page, which the entry links to.
func pollFeedHTML(p event.Poll) string {
	var b strings.Builder
	b.WriteString("<p><strong>Poll:</strong> " + html.EscapeString(p.Question) + "</p><ul>")
	for _, a := range p.Answers {
		b.WriteString("<li>" + html.EscapeString(a.Text) + "</li>")
	}
	b.WriteString("</ul>")
	return b.String()
}

// writeFeed sends a filled feed.
func (s *Server) writeFeed(c echo.Context, f atomFeed) error {
	b, err := xml.MarshalIndent(f, "", " ")
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	// Feeds are for readers, not search engines (robots.txt too).
	c.Response().Header().Set("X-Robots-Tag", "noindex")
	return s.sendCached(c, http.StatusOK, "application/atom+xml; charset=utf-8", append([]byte(xml.Header), b...), s.now().UTC().Truncate(24*time.Hour))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// meetingsFeedPath is a room's feed of meetings.
func meetingsFeedPath(r store.Room) string { return roomPath(r, "meetings.atom") }

// meetingsFeed serves /room/{room}/meetings.atom: the room's newest
// meetings, one entry per meeting with its plain-text minutes. Minutes are
// derived from the shown messages on each request, as on the meetings
// page, so a withdrawn line leaves the feed at once.
func (s *Server) meetingsFeed(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if err := s.needFeeds(); err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, meetingsFeedPath(r))
	}
	ms, _, err := s.meetingList(c, r)
	if err != nil {
		return err
	}
	self := s.absolute(meetingsFeedPath(r))
	f := atomFeed{
		ID: s.absolute(idPath(r, "meetings.atom")), Title: fmt.Sprintf("Meetings in %s · %s", isolated(roomName(r)), s.opts.SiteName),
		Links:  []atomLink{{Rel: "self", Type: "application/atom+xml", Href: self}, {Rel: "alternate", Type: "text/html", Href: s.absolute(roomPath(r, "meetings"))}},
		Author: &atomPerson{Name: s.opts.SiteName, URI: s.absolute("/")},
	}
	newest := time.UnixMilli(max(r.FirstTS, 0)).UTC()
	for i := range ms[:min(len(ms), feedEntries)] {
		m := &ms[i]
		link := s.absolute(meetingPath(r, m.ID, ""))
		start, end := time.UnixMilli(m.Start).UTC(), time.UnixMilli(m.End).UTC()
		// Updated when a line of it was edited or withdrawn since (a
		// revision stamped ahead of now counts once its time has come,
		// meetingWindow), so a reader keeping entries by ID and update
		// takes the new minutes.
		updated := later(end, time.UnixMilli(m.Revised).UTC())
		newest = later(newest, updated)
		title := m.Title
		if title == "" {
			title = "Meeting"
		}
		// The owner, named as the minutes name them (minutesName): an
		// author "@a:example.org" was @mallory's meeting.
		var chair string
		if len(m.Chairs) > 0 {
			chair = minutesName(m.Chairs[0].Name, m.Chairs[0].Sender)
		}
		f.Entries = append(f.Entries, atomEntry{
			ID: s.absolute(idPath(r, "meeting", string(m.ID))), Title: fmt.Sprintf("%s (%s)", isolated(title), start.Format(dateLayout)),
			Updated: updated.Format(time.RFC3339), Published: start.Format(time.RFC3339),
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: link},
			Author:  atomPerson{Name: chair},
			Content: atomText{Type: "text", Body: meetingText(r, m, s.absolute)},
		})
	}
	f.Updated = newest.Format(time.RFC3339)
	return s.writeFeed(c, f)
}
