package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

const hostile = id.RoomID("!hostile:evil.example")

// inRoom moves test events to another room.
func inRoom(r id.RoomID, evs ...store.Event) []store.Event {
	for i := range evs {
		evs[i].RoomID = r
	}
	return evs
}

// hostileRoom is a world-readable room whose admin claims the real room's
// canonical alias, #test:example.org.
func hostileRoom(t *testing.T) []store.Event {
	return inRoom(hostile,
		mk(t, "$hcreate", "m.room.create", "@mallory:evil.example", 1000, sk(""), `{"room_version":"10"}`),
		mk(t, "$hhv", "m.room.history_visibility", "@mallory:evil.example", 1001, sk(""), `{"history_visibility":"world_readable"}`),
		mk(t, "$halias", "m.room.canonical_alias", "@mallory:evil.example", 1002, sk(""), `{"alias":"#test:example.org"}`),
		mk(t, "$hmsg", "m.room.message", "@mallory:evil.example", 2000, nil, `{"msgtype":"m.text","body":"hijacked"}`),
	)
}

func routes(t *testing.T, st *store.Store, alias string) id.RoomID {
	t.Helper()
	got, err := st.RoomIDByAlias(context.Background(), alias)
	if errors.Is(err, store.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("RoomIDByAlias(%s): %v", alias, err)
	}
	return got
}

// A claim in room state routes nothing: two rooms claiming one alias, in
// either order, leave it unrouted until the directory is asked.
func TestAliasClaimsDoNotRoute(t *testing.T) {
	for _, order := range []string{"real first", "hostile first"} {
		t.Run(order, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				if order == "real first" {
					put(t, st, baseRoom(t)...)
					put(t, st, hostileRoom(t)...)
				} else {
					put(t, st, hostileRoom(t)...)
					put(t, st, baseRoom(t)...)
				}
				// Later state in the hostile room rewrites its row (row
				// order on PostgreSQL follows updates).
				put(t, st, inRoom(hostile, mk(t, "$hname", "m.room.name", "@mallory:evil.example", 3000, sk(""), `{"name":"x"}`))...)
				for _, a := range []string{"#test:example.org", "#old:example.org"} {
					if got := routes(t, st, a); got != "" {
						t.Errorf("unverified claim %s routes to %s", a, got)
					}
				}
			})
		})
	}
}

func TestAliasVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, hostileRoom(t)...)
		pending, err := st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		claims := map[string]store.AliasClaim{}
		for _, c := range pending {
			claims[string(c.RoomID)+" "+c.Alias] = c
		}
		realClaim, ok1 := claims[string(room)+" #test:example.org"]
		hostileClaim, ok2 := claims[string(hostile)+" #test:example.org"]
		if len(pending) != 3 || !ok1 || !ok2 || realClaim.EventID != "$alias" || hostileClaim.EventID != "$halias" {
			t.Fatalf("pending claims = %+v", pending)
		}
		check := func(c store.AliasClaim, resolved id.RoomID, want store.AliasCheck) {
			t.Helper()
			got, err := st.CheckAliasClaim(ctx, c, resolved)
			if err != nil || got != want {
				t.Errorf("CheckAliasClaim(%s in %s, directory %q) = %+v, %v; want %+v", c.Alias, c.RoomID, resolved, got, err, want)
			}
		}
		slugOf := func(r id.RoomID) string {
			t.Helper()
			rm, err := st.Room(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			return rm.Alias
		}
		// The directory names the real room: the hostile claim is refused,
		// the real one routes.
		check(hostileClaim, room, store.AliasCheck{Outcome: store.AliasElsewhere})
		if got := routes(t, st, "#test:example.org"); got != "" || slugOf(hostile) != "" {
			t.Fatalf("refused claim routes: %q, slug %q", got, slugOf(hostile))
		}
		check(realClaim, room, store.AliasCheck{Outcome: store.AliasRouted})
		if got := routes(t, st, "#test:example.org"); got != room {
			t.Fatalf("verified alias routes to %q", got)
		}
		if slugOf(room) != "#test:example.org" || slugOf(hostile) != "" {
			t.Errorf("slugs = %q, %q", slugOf(room), slugOf(hostile))
		}
		// Checked claims are no longer pending; an import of the hostile
		// room cannot take a routed alias.
		if p, _ := st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10); len(p) != 1 || p[0].Alias != "#old:example.org" {
			t.Errorf("pending after checks = %+v", p)
		}
		conflicts, err := st.RouteUnclaimedAliases(ctx, hostile)
		if err != nil || len(conflicts) != 1 || conflicts[0] != (store.AliasConflict{Alias: "#test:example.org", Other: room}) {
			t.Errorf("RouteUnclaimedAliases(hostile) = %+v, %v", conflicts, err)
		}
		// Checked claims come back for a periodic re-check, least recently
		// checked first.
		if p, _ := st.PendingAliasClaims(ctx, time.Now().Add(time.Minute), time.Time{}, 10); len(p) != 3 || p[0].Alias != "#old:example.org" {
			t.Errorf("claims due for a re-check = %+v", p)
		}
		// The hostile room re-asserts its claim: pending again, still refused.
		put(t, st, inRoom(hostile, mk(t, "$halias2", "m.room.canonical_alias", "@mallory:evil.example", 3000, sk(""), `{"alias":"#test:example.org"}`))...)
		check(hostileClaim, room, store.AliasCheck{Outcome: store.AliasStale})
		hostileClaim.EventID = "$halias2"
		check(hostileClaim, room, store.AliasCheck{Outcome: store.AliasElsewhere})
		if got := routes(t, st, "#test:example.org"); got != room {
			t.Errorf("after re-claim the alias routes to %q", got)
		}
		// A directory that forgot the alias leaves the verified route.
		check(realClaim, "", store.AliasCheck{Outcome: store.AliasUnresolved})
		if got := routes(t, st, "#test:example.org"); got != room {
			t.Errorf("after unresolved check the alias routes to %q", got)
		}
		// The real room moves to a new alias: the old one keeps resolving
		// here (old links), but is no longer its slug.
		put(t, st, mk(t, "$alias2", "m.room.canonical_alias", "@alice:example.org", 3000, sk(""), `{"alias":"#new:example.org"}`))
		if got := routes(t, st, "#test:example.org"); got != room || slugOf(room) != "" {
			t.Errorf("after move: #test routes to %q, slug %q", got, slugOf(room))
		}
		// When the directory hands the old alias to another room, its URLs
		// move there, and the move is reported.
		check(hostileClaim, hostile, store.AliasCheck{Outcome: store.AliasRouted, Previous: room})
		if got := routes(t, st, "#test:example.org"); got != hostile || slugOf(hostile) != "#test:example.org" {
			t.Errorf("after hand-over: routes to %q, slug %q", got, slugOf(hostile))
		}
	})
}

// Imports have no directory: an alias routes when no other room claims it.
func TestImportRoutesOnlyUnclaimedAliases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, hostileRoom(t)...)
		conflicts, err := st.RouteUnclaimedAliases(ctx, room)
		if err != nil || len(conflicts) != 1 || conflicts[0] != (store.AliasConflict{Alias: "#test:example.org", Other: hostile}) {
			t.Errorf("RouteUnclaimedAliases = %+v, %v", conflicts, err)
		}
		if got := routes(t, st, "#old:example.org"); got != room {
			t.Errorf("unclaimed #old routes to %q", got)
		}
		if got := routes(t, st, "#test:example.org"); got != "" {
			t.Errorf("contested #test routes to %q", got)
		}
		// The directory later disproves an import's route: it goes.
		p, _ := st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10)
		for _, c := range p {
			if c.Alias == "#old:example.org" {
				if got, err := st.CheckAliasClaim(ctx, c, hostile); err != nil || got != (store.AliasCheck{Outcome: store.AliasElsewhere, Previous: room}) {
					t.Errorf("disproving check = %+v, %v", got, err)
				}
			}
		}
		if got := routes(t, st, "#old:example.org"); got != "" {
			t.Errorf("disproved #old routes to %q", got)
		}
	})
}

// A purged room keeps its alias routes, so a link by alias answers 410 as
// one by room ID does; an import of another room claiming the alias takes
// it, since a purged room's route counts for nothing else.
func TestPurgedRoomKeepsItsAliasRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		if c, err := st.RouteUnclaimedAliases(ctx, room); err != nil || len(c) != 0 {
			t.Fatalf("RouteUnclaimedAliases = %+v, %v", c, err)
		}
		if _, err := st.PurgeRoom(ctx, room, false); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"#test:example.org", "#old:example.org"} {
			if got := routes(t, st, a); got != room {
				t.Errorf("after the purge %s routes to %q, want the purged room", a, got)
			}
		}
		r, err := st.RoomToRead(ctx, room)
		if err != nil || r.Shown() {
			t.Errorf("purged room: shown %v, %v", r.Shown(), err)
		}
		// The community makes the room anew under the same alias, and its
		// history is imported.
		put(t, st, hostileRoom(t)...)
		if c, err := st.RouteUnclaimedAliases(ctx, hostile); err != nil || len(c) != 0 {
			t.Errorf("RouteUnclaimedAliases(new room) = %+v, %v; want the purged room's route given up", c, err)
		}
		if got := routes(t, st, "#test:example.org"); got != hostile {
			t.Errorf("#test routes to %q, want the new room", got)
		}
		if got := routes(t, st, "#old:example.org"); got != room {
			t.Errorf("#old, which no other room claims, routes to %q", got)
		}
	})
}

// AliasRoutes reads where many aliases route at once, as RoomIDByAlias
// reads one: an alias that routes nowhere is left out.
func TestAliasRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		if _, err := st.RouteUnclaimedAliases(ctx, room); err != nil {
			t.Fatal(err)
		}
		want, err := st.RoomIDByAlias(ctx, "#test:example.org")
		if err != nil {
			t.Fatal(err)
		}
		many := []string{"#nowhere:example.org"}
		for i := range 600 { // past one query's list
			many = append(many, fmt.Sprintf("#x%d:example.org", i))
		}
		got, err := st.AliasRoutes(ctx, append(many, "#test:example.org"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got["#test:example.org"] != want {
			t.Errorf("AliasRoutes = %v; want only #test:example.org → %s", got, want)
		}
	})
}
