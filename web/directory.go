package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// The directory: the shown rooms (at most store.MaxDirectoryRooms, most
// recently active first) but those that ask not to be listed (listing.go),
// filtered by a word in their name, alias or
// topic, sorted by activity or name, a page at a time, and grouped by the
// Matrix spaces the archive knows.

// directoryPageSize is how many rooms one directory page lists.
const directoryPageSize = 50

type directoryView struct {
	Rooms  []roomView
	Capped int // store.MaxDirectoryRooms when more rooms were left out
	Q      string
	Sort   string
	Space  *spaceView // the space the list is narrowed to
	Spaces []spaceView
	Total  int // rooms matching, before paging
	Page   int
	Pages  int
	Prev   string
	Next   string
}

type spaceView struct {
	ID    string
	Name  string
	Path  string // the directory narrowed to it
	Rooms int
}

func (s *Server) directory(c echo.Context) error {
	ctx := c.Request().Context()
	v := directoryView{Q: strings.TrimSpace(c.QueryParam("q")), Sort: c.QueryParam("sort"), Page: 1}
	switch v.Sort {
	case "", "activity":
		v.Sort = "activity"
	case "name":
	default:
		return badRequest("sort is activity or name.")
	}
	if p := c.QueryParam("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > store.MaxDirectoryRooms/directoryPageSize+1 {
			return badRequest("page must be a number from 1 to %d.", store.MaxDirectoryRooms/directoryPageSize+1)
		}
		v.Page = n
	}
	// The filter is shown back in the page, which says it is UTF-8.
	if !utf8.ValidString(v.Q) {
		return badRequest("The filter is not text (UTF-8).")
	}
	if utf8.RuneCountInString(v.Q) > 200 {
		return badRequest("The filter is too long (at most 200 characters).")
	}
	rooms, more, err := s.store.RoomsUpTo(ctx, store.MaxDirectoryRooms)
	if err != nil {
		return err
	}
	if more {
		v.Capped = store.MaxDirectoryRooms
	}
	children, err := s.store.SpaceChildren(ctx)
	if err != nil {
		return err
	}
	// One read of the listed rooms' and the spaces' archive_controls.
	ids := make([]id.RoomID, 0, len(rooms)+len(children))
	for _, r := range rooms {
		ids = append(ids, r.ID)
	}
	for space := range children {
		ids = append(ids, space)
	}
	unlisted, err := s.unlisted(ctx, ids)
	if err != nil {
		return err
	}
	rooms = filterRooms(rooms, func(r store.Room) bool { return !unlisted[r.ID] })
	for space := range unlisted {
		delete(children, space)
	}
	shown := map[id.RoomID]bool{}
	for _, r := range rooms {
		shown[r.ID] = true
	}
	if v.Spaces, err = s.spaces(ctx, children, shown); err != nil {
		return err
	}
	if sp := c.QueryParam("space"); sp != "" {
		for i := range v.Spaces {
			if v.Spaces[i].ID == sp {
				v.Space = &v.Spaces[i]
			}
		}
		if v.Space == nil {
			return notFound("The archive shows no space %s.", truncateRunes(sp, 80))
		}
		in := map[id.RoomID]bool{}
		for _, ch := range children[id.RoomID(sp)] {
			in[ch] = true
		}
		rooms = filterRooms(rooms, func(r store.Room) bool { return in[r.ID] })
	}
	if v.Q != "" {
		if rooms, err = s.filterDirectory(ctx, rooms, strings.ToLower(v.Q)); err != nil {
			return err
		}
	}
	if v.Sort == "name" {
		sort.SliceStable(rooms, func(i, j int) bool {
			return strings.ToLower(strings.TrimLeft(roomName(rooms[i]), "#!")) < strings.ToLower(strings.TrimLeft(roomName(rooms[j]), "#!"))
		})
	}
	v.Total = len(rooms)
	v.Pages = max(1, (len(rooms)+directoryPageSize-1)/directoryPageSize)
	if v.Page > v.Pages {
		return notFound("There is no page %d of this list; it has %d.", v.Page, v.Pages)
	}
	from := (v.Page - 1) * directoryPageSize
	for _, r := range rooms[from:min(len(rooms), from+directoryPageSize)] {
		v.Rooms = append(v.Rooms, s.roomView(ctx, r))
	}
	link := func(page int) string {
		q := url.Values{}
		if v.Q != "" {
			q.Set("q", v.Q)
		}
		if v.Sort != "activity" {
			q.Set("sort", v.Sort)
		}
		if v.Space != nil {
			q.Set("space", v.Space.ID)
		}
		if page > 1 {
			q.Set("page", strconv.Itoa(page))
		}
		if len(q) == 0 {
			return "/"
		}
		return "/?" + q.Encode()
	}
	if v.Page > 1 {
		v.Prev = link(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.Next = link(v.Page + 1)
	}
	return s.renderPage(c, http.StatusOK, "directory", v)
}

func filterRooms(rooms []store.Room, keep func(store.Room) bool) []store.Room {
	var out []store.Room
	for _, r := range rooms {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// spaces lists the spaces the archive shows that hold at least one shown
// room, by name.
func (s *Server) spaces(ctx context.Context, children map[id.RoomID][]id.RoomID, shown map[id.RoomID]bool) ([]spaceView, error) {
	var out []spaceView
	for space, kids := range children {
		n := 0
		for _, k := range kids {
			if shown[k] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		r, err := s.store.Room(ctx, space)
		if err != nil || !r.Shown() || r.HistoryVisibility != "world_readable" {
			continue // a space that is not public does not name its rooms here
		}
		out = append(out, spaceView{ID: string(space), Name: roomName(r), Path: "/?space=" + url.QueryEscape(string(space)), Rooms: n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || out[i].Name == out[j].Name && out[i].ID < out[j].ID
	})
	return out, nil
}

// filterDirectory keeps the rooms whose name, address, topic or ID holds
// q (lower case). A room's addresses are those that lead to it (its
// Alias, and the alt_aliases that route to it: routedAliasesIn), not
// every one its state claims: a squatter naming another room's address
// would be listed as that address's room. The routes of the rooms that
// match by nothing but an alt_alias are read at once (store.AliasRoutes).
func (s *Server) filterDirectory(ctx context.Context, rooms []store.Room, q string) ([]store.Room, error) {
	has := func(f string) bool { return strings.Contains(strings.ToLower(f), q) }
	keep := make([]bool, len(rooms))
	var alts []string
	for i, r := range rooms {
		switch {
		case has(roomName(r)) || has(r.Alias) || has(r.Topic) || has(string(r.ID)):
			keep[i] = true
		case slices.ContainsFunc(altAliasesOf(r), has):
			alts = append(alts, altAliasesOf(r)...)
		}
	}
	var routes map[string]id.RoomID
	if len(alts) > 0 {
		var err error
		if routes, err = s.store.AliasRoutes(ctx, alts); err != nil {
			return nil, err
		}
	}
	out := rooms[:0:0]
	for i, r := range rooms {
		if !keep[i] && routes != nil {
			routed, _ := routedAliasesIn(r, routes)
			keep[i] = slices.ContainsFunc(routed, has)
		}
		if keep[i] {
			out = append(out, r)
		}
	}
	return out, nil
}
