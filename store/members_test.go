package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestJoinedMembersUpTo: with a bound at least the room's member events
// (IRC imports' left out), JoinedMembersUpTo is JoinedMembers; below it,
// it answers that the room has more, with no members, on both databases.
func TestJoinedMembersUpTo(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...) // one member event: @alice's join
		put(t, st,
			mk(t, "$b1", "m.room.member", "@bob:other.org", 2000, sk("@bob:other.org"), `{"membership":"join"}`),
			mk(t, "$b2", "m.room.member", "@bob:other.org", 2001, sk("@bob:other.org"), `{"membership":"leave"}`),
			mk(t, "$c1", "m.room.member", "@carol:third.org", 2002, sk("@carol:third.org"), `{"membership":"join"}`),
			// An IRC import's join is history, not a member: not read.
			mk(t, "$irc-dave", "m.room.member", "@dave:example.org", 2003, sk("@dave:example.org"), `{"membership":"join"}`),
		)
		const events = 4 // alice's join, bob's join and leave, carol's join
		all, err := st.JoinedMembers(ctx, room)
		if err != nil || fmt.Sprint(all) != "[@alice:example.org @carol:third.org]" {
			t.Fatalf("JoinedMembers = %v, %v", all, err)
		}
		for max := 0; max <= events+2; max++ {
			members, complete, err := st.JoinedMembersUpTo(ctx, room, max)
			if err != nil {
				t.Fatalf("JoinedMembersUpTo(%d): %v", max, err)
			}
			if complete != (max >= events) {
				t.Errorf("JoinedMembersUpTo(%d): complete %v with %d member events", max, complete, events)
			}
			want := "[]"
			if complete {
				want = fmt.Sprint(all)
			}
			if got := fmt.Sprint(members); got != want {
				t.Errorf("JoinedMembersUpTo(%d) = %s, want %s", max, got, want)
			}
		}
		if _, _, err := st.JoinedMembersUpTo(ctx, room, -1); err == nil {
			t.Error("JoinedMembersUpTo(-1): no error")
		}
	})
}
