package web

import (
	"context"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/store"
)

// Listing: a room whose admins set "archive": false in MSC4021's
// archive_controls keeps its pages, reachable by direct link (permalinks
// are forever) and marked noindex (roomRobots), but no list the archive
// offers names it: the directory and its JSON, the sitemap index and the
// room's own sitemap. A space that asks so is not offered as a group.

// unlisted reports which of rooms ask not to be listed, in one batched
// read of their archive_controls.
func (s *Server) unlisted(ctx context.Context, rooms []id.RoomID) (map[id.RoomID]bool, error) {
	controls, err := s.store.ArchiveControls(ctx, rooms)
	if err != nil {
		return nil, err
	}
	out := map[id.RoomID]bool{}
	for r, ac := range controls {
		if ac.Unlisted {
			out[r] = true
		}
	}
	return out, nil
}

// listed is rooms without those that ask not to be listed, in order.
func (s *Server) listed(ctx context.Context, rooms []store.Room) ([]store.Room, error) {
	unlisted, err := s.unlisted(ctx, roomIDs(rooms))
	if err != nil {
		return nil, err
	}
	return filterRooms(rooms, func(r store.Room) bool { return !unlisted[r.ID] }), nil
}

// roomIDs are the rooms' IDs.
func roomIDs(rooms []store.Room) []id.RoomID {
	ids := make([]id.RoomID, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	return ids
}
