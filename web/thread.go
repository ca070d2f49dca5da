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
}

// thread serves /room/{room}/thread/{root}: the whole thread.
func (s *Server) thread(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	root, err := param(c, "event")
	if err != nil {
		return err
	}
	if !canonical {
		return c.Redirect(http.StatusMovedPermanently, roomPath(r, "thread", root))
	}
	return s.renderThread(c, r, id.EventID(root), "")
}

func (s *Server) renderThread(c echo.Context, r store.Room, rootID, highlight id.EventID) error {
	ctx := c.Request().Context()
	root, err := s.store.EventByID(ctx, rootID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (root.RoomID != r.ID || !root.Public || root.Expired)) {
		return notFound("This archive has no thread starting at %s in this room.", rootID)
	}
	if err != nil {
		return err
	}
	related, err := s.store.Related(ctx, []id.EventID{rootID})
	if err != nil {
		return err
	}
	evs := []store.Event{root}
	for _, e := range related {
		if e.Rel.Type == event.RelThread && e.Displayable() {
			evs = append(evs, e)
		}
	}
	slices.SortStableFunc(evs, func(a, b store.Event) int {
		return cmp.Or(cmp.Compare(a.OriginTS, b.OriginTS), cmp.Compare(a.NID, b.NID))
	})
	if highlight == "" {
		highlight = rootID
	}
	v := threadPageView{Room: s.roomView(ctx, r), RootPath: eventPath(r, rootID),
		DayPath: roomPath(r, time.UnixMilli(root.OriginTS).UTC().Format(dateLayout))}
	if v.Items, err = s.timeline(ctx, r, evs, highlight, true); err != nil {
		return err
	}
	return s.renderCached(c, http.StatusOK, "thread", v, time.Time{})
}
