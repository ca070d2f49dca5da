package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A room no longer world-readable, shown under show_formerly_public,
// showed the name and topic set after it went private ("Layoffs list
// (confidential)"), on its pages, its about page, the directory and the
// API: the summary took the latest state, public or not. It now shows
// what it last had while public, and a room made public after its name
// was set (privately) still shows that name.
func TestFormerlyPublicRoomShowsItsPublicName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		private := func(e store.Event) store.Event { e.Public = false; return e }
		evs := baseRoom(t)
		// The name and topic set before the history was world-readable.
		evs[2], evs[3] = private(mk(t, "$name", "m.room.name", "@alice:example.org", 1001, sk(""), `{"name":"Project"}`)), evs[2]
		evs = append(evs, private(mk(t, "$topic0", "m.room.topic", "@alice:example.org", 1001, sk(""), `{"topic":"first topic"}`)))
		put(t, st, evs...)
		check := func(what, name, topic string) {
			t.Helper()
			r, err := st.Room(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			if r.Name != name || r.Topic != topic {
				t.Errorf("%s: name %q, topic %q; want %q, %q", what, r.Name, r.Topic, name, topic)
			}
		}
		check("public, its name set before", "Project", "first topic")
		put(t, st,
			mk(t, "$topic1", "m.room.topic", "@alice:example.org", 3000, sk(""), `{"topic":"public topic"}`),
			mk(t, "$hvj", "m.room.history_visibility", "@alice:example.org", 4000, sk(""), `{"history_visibility":"joined"}`),
			private(mk(t, "$name2", "m.room.name", "@alice:example.org", 5000, sk(""), `{"name":"Layoffs list (confidential)"}`)),
			private(mk(t, "$topic2", "m.room.topic", "@alice:example.org", 5001, sk(""), `{"topic":"who goes first"}`)),
		)
		check("private since, renamed privately", "Project", "public topic")
		put(t, st,
			mk(t, "$hvw", "m.room.history_visibility", "@alice:example.org", 6000, sk(""), `{"history_visibility":"world_readable"}`),
		)
		check("public again, its current state public too", "Layoffs list (confidential)", "who goes first")
	})
}
