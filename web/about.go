package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// A room's about page, and the room's say over how search engines treat
// its pages (MSC4021 archive_controls).

// roomRobots is the robots rule for a room's pages: the room's own
// archive_controls directives (the stable type, else the unstable one),
// plus noindex when it asks not to be listed or its history is no longer
// public. Set as the X-Robots-Tag
// header too, which also covers the plain-text log.
func (s *Server) roomRobots(c echo.Context, r store.Room) (string, event.ArchiveControls, error) {
	controls, err := s.store.ArchiveControls(c.Request().Context(), []id.RoomID{r.ID})
	if err != nil {
		return "", event.ArchiveControls{}, err
	}
	ac := controls[r.ID]
	rules := ac.Robots
	// A room whose history is no longer world-readable, shown only under
	// the operator's show_formerly_public, is not offered to search
	// engines either.
	unlisted := ac.Unlisted || r.HistoryVisibility != "" && r.HistoryVisibility != "world_readable"
	if unlisted && !contains(rules, "noindex") && !contains(rules, "none") {
		rules = append([]string{"noindex"}, rules...)
	}
	robots := strings.Join(rules, ", ")
	if robots != "" {
		c.Response().Header().Set("X-Robots-Tag", robots)
	}
	return robots, ac, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type aboutView struct {
	Room        roomView
	AltAliases  []string
	Version     string
	Creator     string
	Earlier     []roomLink // the upgrade chain back, nearest first
	Later       []roomLink // and forward
	FirstDate   string
	FirstPath   string
	LastDate    string
	LastPath    string
	Count       int64
	Complete    string // how complete the archived history is
	Retention   string
	Indexing    string
	Robots      string
	Unlisted    bool
	Bot         string
	CalendarURL string
	FeedURL     string
	Meta        pageMeta
}

type roomLink struct {
	Name string
	ID   string
	Path string // "" when the archive does not show that room
}

// maxUpgradeChain bounds how far the about page follows upgrades each way.
const maxUpgradeChain = 20

func (s *Server) about(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, roomPath(r, "about"))
	}
	ctx := c.Request().Context()
	robots, ac, err := s.roomRobots(c, r)
	if err != nil {
		return err
	}
	v := aboutView{
		Room: s.roomView(ctx, r), AltAliases: r.AltAliases, Version: r.Version, Creator: string(r.Creator),
		Count: r.MessageCount, Robots: robots, Unlisted: ac.Unlisted, Bot: s.opts.Bot,
		CalendarURL: roomPath(r, "calendar"), FeedURL: feedPath(r),
	}
	if v.Version == "" {
		v.Version = "1"
	}
	v.Meta = pageMeta{Title: "About " + isolated(roomName(r)), Canonical: s.absolute(roomPath(r, "about")), SiteName: s.opts.SiteName, Robots: robots,
		Description: fmt.Sprintf("The public archive of the Matrix room %s: its history, how complete it is, and how it is kept.", isolated(roomName(r)))}
	if v.Earlier, err = s.upgradeChain(ctx, r, func(x store.Room) id.RoomID { return x.Predecessor }); err != nil {
		return err
	}
	if v.Later, err = s.upgradeChain(ctx, r, func(x store.Room) id.RoomID { return x.Successor }); err != nil {
		return err
	}
	if r.FirstTS > 0 {
		v.FirstDate = time.UnixMilli(r.FirstTS).UTC().Format(dateLayout)
		v.FirstPath = roomPath(r, v.FirstDate)
	}
	if r.LastTS > 0 {
		v.LastDate = time.UnixMilli(r.LastTS).UTC().Format(dateLayout)
		v.LastPath = roomPath(r, v.LastDate)
	}
	switch rs, err := s.store.RoomSync(ctx, r.ID); {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	case err == nil && rs.ReachedCreate:
		v.Complete = "The archive holds this room's public history back to the room's creation."
	case err == nil && !rs.CompleteFrom.IsZero():
		v.Complete = "The archive holds this room's history from " + rs.CompleteFrom.UTC().Format("2 January 2006, 15:04 UTC") + " on; earlier messages were not archived."
	default:
		v.Complete = "The archive has not read this room's history back from the homeserver (it was imported, or reading it is still to come): only what it received is shown."
	}
	if r.MaxLifetime > 0 {
		v.Retention = fmt.Sprintf("Messages are kept for %s, then deleted from the archive.", lifetime(r.MaxLifetime))
		if r.OwnMaxLifetime != nil {
			v.Retention += " The room sets this in its retention policy (m.room.retention)."
		} else {
			v.Retention += " This is the archive operator's policy."
		}
	} else {
		v.Retention = "Messages are kept until they are deleted in the room, or their sender opts out."
	}
	switch {
	case robots != "":
		v.Indexing = "The room's admins asked archives to tell search engines: " + robots + " (m.room.archive_controls). Its pages say so."
	default:
		v.Indexing = "Search engines may index this room's pages: its history is readable by anyone, and its admins have not asked otherwise (m.room.archive_controls)."
	}
	b, err := s.execPage("about", v)
	if err != nil {
		return err
	}
	return s.sendCached(c, http.StatusOK, echo.MIMETextHTMLCharsetUTF8, b, time.Time{})
}

// upgradeChain follows a room's upgrades one way (next gives the
// neighbour's ID), at most maxUpgradeChain rooms, stopping at a loop or at
// a room the archive does not hold.
func (s *Server) upgradeChain(ctx context.Context, r store.Room, next func(store.Room) id.RoomID) ([]roomLink, error) {
	var out []roomLink
	seen := map[id.RoomID]bool{r.ID: true}
	for cur := next(r); cur != "" && !seen[cur] && len(out) < maxUpgradeChain; {
		seen[cur] = true
		other, err := s.store.Room(ctx, cur)
		if errors.Is(err, store.ErrNotFound) {
			out = append(out, roomLink{Name: string(cur), ID: string(cur)})
			break
		}
		if err != nil {
			return nil, err
		}
		l := roomLink{Name: roomName(other), ID: string(other.ID)}
		if other.Shown() {
			l.Path = roomPath(other, "about")
		}
		out = append(out, l)
		cur = next(other)
	}
	return out, nil
}
