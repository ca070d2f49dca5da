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
	robots := robotsRule(r, ac)
	if robots != "" {
		c.Response().Header().Set("X-Robots-Tag", robots)
	}
	return robots, ac, nil
}

// robotsRule is the robots rule of r's pages, given its archive controls
// ac (roomRobots; the sitemaps ask it of many rooms at once).
func robotsRule(r store.Room, ac event.ArchiveControls) string {
	rules := ac.Robots
	// A room whose history is no longer world-readable, shown only under
	// the operator's show_formerly_public, is not offered to search
	// engines either.
	unlisted := ac.Unlisted || r.HistoryVisibility != "" && r.HistoryVisibility != "world_readable"
	if unlisted && !contains(rules, "noindex") && !contains(rules, "none") {
		rules = append([]string{"noindex"}, rules...)
	}
	return strings.Join(rules, ", ")
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
	Room       roomView
	AltAliases []string // those that lead to the room here (routedAliases)
	Version    string
	Creator    string
	Earlier    []roomLink // the confirmed upgrade chain back, nearest first
	Later      []roomLink // and forward
	// EarlierClaim and LaterClaim are the predecessor the room's create
	// event names and the successor its tombstone names, when that
	// upgrade is not confirmed (upgradeChain): the room's claim only.
	EarlierClaim, LaterClaim *upgradeClaim
	// AliasClaims are the addresses the room's state claims that do not
	// lead to it here (not verified, or another room's): shown as claims.
	AliasClaims []string
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

// roomLink is a room of a confirmed upgrade chain, always a shown room.
type roomLink struct {
	Name string
	ID   string
	Path string
}

// upgradeClaim is an upgrade the room's own state claims and the other
// room does not confirm: named by its ID alone, never linked.
type upgradeClaim struct {
	ID string
	// Disputed: the archive shows the other room, and its state does not
	// name this room back; else the archive cannot confirm it (it does
	// not show that room, or never held it).
	Disputed bool
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
		Room: s.roomView(ctx, r), Version: r.Version, Creator: string(r.Creator),
		Count: r.MessageCount, Robots: robots, Unlisted: ac.Unlisted, Bot: s.opts.Bot,
		CalendarURL: roomPath(r, "calendar"), FeedURL: feedPath(r),
	}
	if v.AltAliases, v.AliasClaims, err = s.routedAliases(ctx, r); err != nil {
		return err
	}
	if v.Version == "" {
		v.Version = "1"
	}
	v.Meta = pageMeta{Title: "About " + isolated(roomName(r)), Canonical: s.absolute(roomPath(r, "about")), SiteName: s.opts.SiteName, Robots: robots,
		Description: fmt.Sprintf("The public archive of the Matrix room %s: its history, how complete it is, and how it is kept.", isolated(roomName(r)))}
	if v.Earlier, v.EarlierClaim, err = s.upgradeChain(ctx, r, true); err != nil {
		return err
	}
	if v.Later, v.LaterClaim, err = s.upgradeChain(ctx, r, false); err != nil {
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

// upgradeChain follows a room's upgrades one way (back: to its
// predecessors, else to its successors), at most maxUpgradeChain rooms,
// as far as each upgrade is confirmed by both of its rooms (upgrades are
// claims: upgradeConfirmed) and the rooms are shown: a room not shown is
// neither named nor followed, nor its state read. claim is r's own
// neighbour when r's state names one the chain does not confirm, nil
// otherwise: shown only as r's unconfirmed claim, by room ID.
func (s *Server) upgradeChain(ctx context.Context, r store.Room, back bool) (out []roomLink, claim *upgradeClaim, err error) {
	next := func(x store.Room) id.RoomID {
		if back {
			return x.Predecessor
		}
		return x.Successor
	}
	seen := map[id.RoomID]bool{r.ID: true}
	for cur := r; next(cur) != "" && !seen[next(cur)] && len(out) < maxUpgradeChain; {
		nb := next(cur)
		seen[nb] = true
		other, err := s.store.Room(ctx, nb)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		shown := err == nil && other.Shown()
		confirmed := false
		if shown {
			if back {
				confirmed, err = s.upgradeConfirmed(ctx, other, cur)
			} else {
				confirmed, err = s.upgradeConfirmed(ctx, cur, other)
			}
			if err != nil {
				return nil, nil, err
			}
		}
		if !confirmed {
			if cur.ID == r.ID {
				// Whether a room the archive does not show exists in it
				// is not said: both read as unconfirmable.
				claim = &upgradeClaim{ID: string(nb), Disputed: shown}
			}
			break
		}
		out = append(out, roomLink{Name: roomName(other), ID: string(other.ID), Path: roomPath(other, "about")})
		cur = other
	}
	return out, claim, nil
}

// maxAliasLookups bounds the aliases of a room's alt_aliases looked up
// (routedAliases): the store routes at most the first 20 of a room's
// claims (store.recordClaims), so later ones lead nowhere.
const maxAliasLookups = 20

// routedAliases splits the addresses r's state claims, its alt_aliases
// (the canonical alias is r.Alias when it routes to r, else a claim),
// into those that lead to r here, as its URLs do (the store's verified
// routes), and the rest: claims that are not verified or route to another
// room. Only the first maxAliasLookups alt_aliases are considered, looked
// up in one read (store.AliasRoutes).
func (s *Server) routedAliases(ctx context.Context, r store.Room) (routed, claims []string, err error) {
	routes, err := s.store.AliasRoutes(ctx, altAliasesOf(r))
	if err != nil {
		return nil, nil, err
	}
	routed, claims = routedAliasesIn(r, routes)
	return routed, claims, nil
}

// altAliasesOf is the alt_aliases of r that routedAliasesIn considers.
func altAliasesOf(r store.Room) []string {
	return r.AltAliases[:min(len(r.AltAliases), maxAliasLookups)]
}

// routedAliasesIn is routedAliases with each alias's route read already
// (routes: where each routes, absent if nowhere), so that a list of rooms
// reads all of theirs at once.
func routedAliasesIn(r store.Room, routes map[string]id.RoomID) (routed, claims []string) {
	if r.CanonicalAlias != "" && r.Alias == "" {
		claims = append(claims, r.CanonicalAlias)
	}
	seen := map[string]bool{r.Alias: true, r.CanonicalAlias: true}
	for _, a := range altAliasesOf(r) {
		if seen[a] {
			continue
		}
		seen[a] = true
		if routes[a] == r.ID {
			routed = append(routed, a)
		} else {
			claims = append(claims, a)
		}
	}
	return routed, claims
}
