package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPreviousMembership: the batched read answers what PreviousState
// answers one event at a time, for every member event: ties on the
// timestamp broken by arrival, a non-public earlier event skipped, a first
// join without one, an opted-out user's profile withdrawn, other types
// ignored, and more events than one IN list holds.
func TestPreviousMembership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		private := mk(t, "$bobPrivate", "m.room.member", "@bob:other.org", 2000, sk("@bob:other.org"), `{"membership":"join","displayname":"Secret Bob"}`)
		private.Public = false
		evs := []store.Event{
			private,
			mk(t, "$bob1", "m.room.member", "@bob:other.org", 2001, sk("@bob:other.org"), `{"membership":"join","displayname":"Bob"}`),
			mk(t, "$bob2", "m.room.member", "@bob:other.org", 2002, sk("@bob:other.org"), `{"membership":"join","displayname":"Robert"}`),
			mk(t, "$bob3", "m.room.member", "@bob:other.org", 2002, sk("@bob:other.org"), `{"membership":"leave"}`),
			mk(t, "$carol1", "m.room.member", "@carol:other.org", 2003, sk("@carol:other.org"), `{"membership":"join","displayname":"Carol"}`),
			mk(t, "$carol2", "m.room.member", "@carol:other.org", 2004, sk("@carol:other.org"), `{"membership":"join","displayname":"C"}`),
			mk(t, "$msg", "m.room.message", "@carol:other.org", 2005, nil, `{"msgtype":"m.text","body":"hi"}`),
		}
		// State keys a list of values must keep as they are: quotes,
		// a backslash, HTML, non-ASCII, and ones that read as a number or
		// as JSON (rows of one JSON parameter on SQLite).
		for i, u := range []string{`@q"uote:x.org`, `@back\slash:x.org`, `@<b>&amp;:x.org`, `@é🎉:x.org`, `12`, `[1,"a"]`, `{"a":1}`, `null`} {
			evs = append(evs,
				mk(t, fmt.Sprintf("$odd%da", i), "m.room.member", "@alice:example.org", 2100+int64(i), sk(u), `{"membership":"join","displayname":"first"}`),
				mk(t, fmt.Sprintf("$odd%db", i), "m.room.member", "@alice:example.org", 2200+int64(i), sk(u), `{"membership":"join","displayname":"second"}`))
		}
		// More than one IN list of member events.
		for i := range 600 {
			evs = append(evs, mk(t, fmt.Sprintf("$many%d", i), "m.room.member", "@many:other.org", 3000+int64(i), sk("@many:other.org"),
				fmt.Sprintf(`{"membership":"join","displayname":"n%d"}`, i)))
		}
		put(t, st, evs...)
		if _, err := st.OptOut(ctx, "@carol:other.org", "operator"); err != nil {
			t.Fatal(err)
		}
		var all []store.Event
		for _, e := range append(baseRoom(t), evs...) {
			got, err := st.EventByID(ctx, e.ID)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, got)
		}
		prev, err := st.PreviousMembership(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		members := 0
		for _, e := range all {
			want, err := st.PreviousState(ctx, e)
			if e.Type != event.TypeMember {
				if _, ok := prev[e.ID]; ok {
					t.Errorf("%s (%s) has a previous membership", e.ID, e.Type)
				}
				continue
			}
			members++
			got, ok := prev[e.ID]
			switch {
			case errors.Is(err, store.ErrNotFound):
				if ok {
					t.Errorf("%s: previous membership %s, PreviousState has none", e.ID, got)
				}
			case err != nil:
				t.Fatal(err)
			case !ok || string(got) != string(want):
				t.Errorf("%s: previous membership %s (%v), PreviousState %s", e.ID, got, ok, want)
			}
		}
		if members < 600 {
			t.Fatalf("only %d member events checked", members)
		}
		for evID, want := range map[string]string{"$bob1": "", "$bob2": "Bob", "$bob3": "Robert", "$carol2": "", "$many1": "n0",
			"$odd0a": "", "$odd0b": "first", "$odd1b": "first", "$odd2b": "first", "$odd3b": "first", "$odd4b": "first", "$odd5b": "first", "$odd6b": "first", "$odd7a": "", "$odd7b": "first"} {
			if got := event.StringField(prev[id.EventID(evID)], "displayname"); got != want {
				t.Errorf("%s: previous display name %q, want %q", evID, got, want)
			}
		}
		if got := event.StringField(prev["$carol2"], "membership"); got != "join" {
			t.Errorf("opted-out user's previous membership %q, want join (profile withdrawn, membership kept)", got)
		}
	})
}
