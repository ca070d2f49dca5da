package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestRoomStatuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st,
			mediaMsg(t, "$img", "@bob:example.org", 2000, "m.image", "mxc://example.org/img", "mxc://example.org/thumb"),
			mediaMsg(t, "$f", "@bob:example.org", 2100, "m.file", "mxc://example.org/file", ""))
		m, _ := event.ParseMXC("mxc://example.org/file")
		if err := st.MediaFailed(ctx, m, "HTTP 404", time.Now(), true); err != nil {
			t.Fatal(err)
		}
		all, err := st.RoomStatuses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 {
			t.Fatalf("statuses = %+v, want one room", all)
		}
		s := all[0]
		if s.MediaPending != 2 || s.MediaGaveUp != 1 || s.Room.LastTS != 2100 {
			t.Errorf("status = pending %d, gave up %d, last %d; want 2, 1, 2100", s.MediaPending, s.MediaGaveUp, s.Room.LastTS)
		}
	})
}
