package store_test

import (
	"context"
	"encoding/json"
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
		// On SQLite through SQLite's API, a lookup each
		// (directPreviousMembership), and through database/sql, one
		// query of them all.
		for _, direct := range []bool{true, false} {
			st.SetDirect(direct)
			reads := st.DirectReads()
			prev, err := st.PreviousMembership(ctx, all)
			if err != nil {
				t.Fatal(err)
			}
			if went := st.DirectReads() > reads; went != (direct && st.Dialect() == "sqlite") {
				t.Errorf("direct %v: read directly: %v", direct, went)
			}
			checkPreviousMembership(t, st, all, prev)
		}
	})
}

// checkPreviousMembership holds prev, PreviousMembership's answer for all,
// to TestPreviousMembership's events.
func checkPreviousMembership(t *testing.T, st *store.Store, all []store.Event, prev map[id.EventID]json.RawMessage) {
	t.Helper()
	ctx := context.Background()
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
}

// TestPreviousMembershipInRun: for a run of a day's events as DayPage
// lists them, the previous membership taken from the run where it holds
// the user's earlier member event is the one the query reads: name
// changes, ties on the timestamp, a non-public member event between two
// (left out of both), a kick by a user who opted out and of one who did,
// a redacted member event, and users whose earlier member event is on an
// earlier day or page.
func TestPreviousMembershipInRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		day := 30 * dayMS
		evs := append(baseRoom(t),
			mk(t, "$bob0", "m.room.member", "@bob:other.org", day-5000, sk("@bob:other.org"), `{"membership":"join","displayname":"Bob yesterday"}`),
			mk(t, "$dan0", "m.room.member", "@dan:other.org", day-4000, sk("@dan:other.org"), `{"membership":"join","displayname":"Dan"}`),
		)
		private := mk(t, "$bobPrivate", "m.room.member", "@bob:other.org", day+3500, sk("@bob:other.org"), `{"membership":"join","displayname":"Secret Bob"}`)
		private.Public = false
		evs = append(evs, private)
		for i := range 30 {
			ts := day + 1000*int64(i)
			evs = append(evs,
				mk(t, fmt.Sprintf("$bob%d", i+1), "m.room.member", "@bob:other.org", ts, sk("@bob:other.org"), fmt.Sprintf(`{"membership":"join","displayname":"Bob %d"}`, i)),
				mk(t, fmt.Sprintf("$carol%d", i+1), "m.room.member", "@carol:other.org", ts, sk("@carol:other.org"), fmt.Sprintf(`{"membership":"join","displayname":"Carol %d"}`, i)),
				mk(t, fmt.Sprintf("$msg%d", i+1), "m.room.message", "@carol:other.org", ts+1, nil, `{"msgtype":"m.text","body":"hi"}`))
		}
		evs = append(evs,
			mk(t, "$kick", "m.room.member", "@dan:other.org", day+40000, sk("@carol:other.org"), `{"membership":"leave","reason":"by an opted-out user"}`),
			mk(t, "$kickDan", "m.room.member", "@alice:example.org", day+41000, sk("@dan:other.org"), `{"membership":"leave","reason":"spam"}`),
			mk(t, "$danBack", "m.room.member", "@dan:other.org", day+42000, sk("@dan:other.org"), `{"membership":"join","displayname":"Dan again"}`),
			mk(t, "$carolBack", "m.room.member", "@carol:other.org", day+43000, sk("@carol:other.org"), `{"membership":"join","displayname":"Carol back"}`),
			mk(t, "$redactBob", "m.room.redaction", "@alice:example.org", day+44000, nil, `{"redacts":"$bob20"}`),
			mk(t, "$bobLast", "m.room.member", "@bob:other.org", day+45000, sk("@bob:other.org"), `{"membership":"leave"}`),
		)
		put(t, st, evs...)
		for _, u := range []id.UserID{"@carol:other.org", "@dan:other.org"} {
			if _, err := st.OptOut(ctx, u, "operator"); err != nil {
				t.Fatal(err)
			}
		}
		check := func(name string, run []store.Event) {
			t.Helper()
			want, err := st.PreviousMembership(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.PreviousMembershipInRun(ctx, run)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) < 10 {
				t.Fatalf("%s: only %d previous memberships to compare", name, len(want))
			}
			for k, w := range want {
				if g, ok := got[k]; !ok || string(g) != string(w) {
					t.Errorf("%s: %s: in the run %s, by the query %s", name, k, g, w)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: %s has a previous membership in the run, none by the query", name, k)
				}
			}
		}
		whole, _, err := st.DayPage(ctx, room, day, day+dayMS, store.Position{}, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		check("whole day", whole)
		later, _, err := st.DayPage(ctx, room, day, day+dayMS, store.PositionOf(whole[40]), 45, 0)
		if err != nil {
			t.Fatal(err)
		}
		check("a later page", later)
		before, _, err := st.DayPageBefore(ctx, room, day, store.PositionOf(whole[len(whole)-1]), 50, 0)
		if err != nil {
			t.Fatal(err)
		}
		check("backwards", before)
	})
}

// BenchmarkPreviousMembershipInRun: a day of an IRC channel whose 20
// regulars reconnect ten times each (joins and quits, 400 member events),
// its previous memberships read by the query alone and from the run.
//
//	go test ./store -run '^$' -bench PreviousMembershipInRun
func BenchmarkPreviousMembershipInRun(b *testing.B) {
	ctx := context.Background()
	st := storetest.Open(b, "sqlite")
	day := 30 * dayMS
	evs := baseRoom(b)
	for i := range 200 {
		u := fmt.Sprintf("@nick%d:irc.example", i%20)
		ts := day + int64(i)*60000
		evs = append(evs,
			mk(b, fmt.Sprintf("$join%d", i), "m.room.member", u, ts, sk(u), `{"membership":"join","displayname":"nick"}`),
			mk(b, fmt.Sprintf("$msg%d", i), "m.room.message", u, ts+1, nil, `{"msgtype":"m.text","body":"hello"}`),
			mk(b, fmt.Sprintf("$quit%d", i), "m.room.member", u, ts+2, sk(u), `{"membership":"leave","reason":"Quit: ping timeout"}`))
	}
	put(b, st, evs...)
	run, _, err := st.DayPage(ctx, room, day, day+dayMS, store.Position{}, 1000, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    func(context.Context, []store.Event) (map[id.EventID]json.RawMessage, error)
	}{{"query", st.PreviousMembership}, {"run", st.PreviousMembershipInRun}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.f(ctx, run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
