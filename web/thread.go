package web

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// threadPageView is a thread's own page: its root and every reply.
type threadPageView struct {
	Room     roomView
	RootPath string
	DayPath  string
	Items    []itemView
	// Capped is how many replies are shown when not all are: only
	// store.MaxRelated are loaded, or store.MaxRelatedBytes of their JSON,
	// and of those only the latest within Options.DayPageBytes of it
	// (latestWithin).
	Capped int
}

// thread serves /room/{room}/thread/{root}: the whole thread. The root is
// looked up as a permalink is (400 for a malformed ID, 410 for one the
// archive no longer shows); a root of a room this one replaced, whose
// alias an upgrade moved here, redirects to that room's thread page.
func (s *Server) thread(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	root, _, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	if root.RoomID != r.ID {
		return s.threadElsewhere(c, r, root)
	}
	if !startsThread(root) {
		return notFound("%s is itself a thread reply, an edit or a reaction: no thread starts at it.", root.ID)
	}
	if !canonical {
		return canonicalRedirect(c, roomPath(r, "thread", string(root.ID)))
	}
	// Replies are the root's room's events (store.Related keeps a
	// relation only in its target's room): its feed position covers them.
	key, err := s.htmlPageKey(c, r, "thread "+string(root.ID))
	if err != nil {
		return err
	}
	if served, err := s.servePageKey(c, key, time.Time{}); served {
		return err
	}
	_, err = s.renderThread(c, r, root, "")
	return err
}

// threadElsewhere answers a thread link of room r whose root is another
// room's: a thread's link names its room by the alias the archive gave
// out, and an upgrade moves the alias to the new room, so a root of a room
// r replaced (predecessors) is sent to that room's thread page, as its
// permalink is to its message. Another room's is a 404: a reply here "in
// its thread" is shown as a message, not as a line of that thread.
func (s *Server) threadElsewhere(c echo.Context, r store.Room, root store.Event) error {
	preds, err := s.predecessors(c.Request().Context(), r)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(preds, func(p store.Room) bool { return p.ID == root.RoomID })
	switch {
	case i < 0:
		return notFound("This archive has no thread starting at %s in this room.", root.ID)
	case !startsThread(root):
		return notFound("%s is itself a thread reply, an edit or a reaction: no thread starts at it.", root.ID)
	}
	return canonicalRedirect(c, roomPath(preds[i], "thread", string(root.ID)))
}

// threadRoot is a reply's thread root when its thread can be shown.
func (s *Server) threadRoot(c echo.Context, r store.Room, rootID id.EventID) (store.Event, bool, error) {
	root, err := s.store.EventByID(c.Request().Context(), rootID)
	if errors.Is(err, store.ErrNotFound) {
		return root, false, nil
	}
	return root, err == nil && root.RoomID == r.ID && root.Public && !root.Expired && startsThread(root), err
}

// startsThread says whether a thread can start at e: a thread's root has
// no relation of its own (so threads do not nest), as the Matrix spec has
// it. A reply "in the thread" of a thread reply, an edit or a reaction is
// shown as a message, and such an event has no thread page.
func startsThread(e store.Event) bool {
	return e.Rel.Type == ""
}

// renderThread serves a thread's page with highlight (a reply, or "" for
// the root) highlighted. It answers nothing and returns false when the
// highlighted reply is not among the replies the page shows (past
// store.MaxRelated), so that its permalink can show it elsewhere.
func (s *Server) renderThread(c echo.Context, r store.Room, root store.Event, highlight id.EventID) (bool, error) {
	ctx := c.Request().Context()
	rootID := root.ID
	related, err := s.store.Related(ctx, []id.EventID{rootID})
	if err != nil {
		return false, err
	}
	var shown []store.Event
	for _, e := range related {
		if e.Rel.Type == event.RelThread && e.Displayable() {
			shown = append(shown, e)
		}
	}
	byTime := func(a, b store.Event) int {
		return cmp.Or(cmp.Compare(a.OriginTS, b.OriginTS), cmp.Compare(a.NID, b.NID))
	}
	slices.SortStableFunc(shown, byTime)
	capped := 0
	if store.RelatedCapped(related, rootID, event.RelThread) {
		capped = len(shown)
	}
	// The latest replies within a day page's bytes, as a day page
	// would show them.
	if k := latestWithin(len(shown), s.opts.DayPageBytes, func(i int) int { return len(shown[i].Raw) }); k < len(shown) {
		shown, capped = shown[len(shown)-k:], k
	}
	evs := append([]store.Event{root}, shown...)
	slices.SortStableFunc(evs, byTime)
	if highlight == "" {
		highlight = rootID
	} else if !slices.ContainsFunc(evs, func(e store.Event) bool { return e.ID == highlight }) {
		return false, nil
	}
	v := threadPageView{Room: s.roomView(ctx, r), RootPath: eventPath(r, rootID),
		DayPath: roomPath(r, time.UnixMilli(root.OriginTS).UTC().Format(dateLayout))}
	v.Capped = capped
	var q renderQueue
	if v.Items, err = s.timeline(ctx, r, evs, highlight, true, nil, &q); err != nil {
		return false, err
	}
	return true, s.renderValidated(c, http.StatusOK, "thread", v, &q, time.Time{})
}

// latestWithin is how many of the last of n items, in time order, a
// page shows within maxBytes of their events' JSON (size(i) of the i-th):
// counted from the newest, the one that reaches maxBytes is the oldest
// shown, as store.DayPage bounds a read; at least one. A hostile member's
// 500 thread replies of 94,000 ampersands were a thread page of 235 MB.
func latestWithin(n, maxBytes int, size func(i int) int) int {
	total := 0
	for k := 1; k <= n; k++ {
		if total += size(n - k); total >= maxBytes {
			return k
		}
	}
	return n
}
