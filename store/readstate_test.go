package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestRoomHeadIsAnIndexProbe: a room's newest change-feed position, which
// every repeated page asks for (store.ReadState), is read from the
// changes_room index on both databases (queryPlan), not by scanning the
// feed.
func TestRoomHeadIsAnIndexProbe(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		plan := queryPlan(t, st, store.ReadStateSQL, "!x:example.org")
		if !strings.Contains(plan, "changes_room") {
			t.Errorf("a room's feed position is not read from the changes_room index:\n%s", plan)
		}
	})
}

// TestReadStateIsPerRoom: a change in another room moves neither of a
// room's positions; one in the room moves its own; an opt-out (no room's
// change) moves where screening stands.
func TestReadStateIsPerRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, mkIn(t, "!x:example.org", "$c", "m.room.create", 1000, sk(""), `{"room_version":"10"}`),
			mkIn(t, "!o:example.org", "$oc", "m.room.create", 1000, sk(""), `{"room_version":"10"}`))
		rs, err := st.ReadState(ctx, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		head, screened := rs.RoomHead, rs.Screened
		put(t, st, mkIn(t, "!o:example.org", "$om", "m.room.message", 2000, nil, `{"msgtype":"m.text","body":"elsewhere"}`))
		rs2, err := st.ReadState(ctx, "!x:example.org")
		h2, s2 := rs2.RoomHead, rs2.Screened
		if err != nil || h2 != head || s2 != screened {
			t.Errorf("after a change elsewhere: %d, %d (%v); before %d, %d", h2, s2, err, head, screened)
		}
		put(t, st, mkIn(t, "!x:example.org", "$xm", "m.room.message", 2000, nil, `{"msgtype":"m.text","body":"here"}`))
		rs3, err := st.ReadState(ctx, "!x:example.org")
		h3, s3 := rs3.RoomHead, rs3.Screened
		if err != nil || h3 <= h2 || s3 != s2 {
			t.Errorf("after a change here: %d, %d (%v); before %d, %d", h3, s3, err, h2, s2)
		}
		if _, err := st.OptOut(ctx, "@alice:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		rs4, err := st.ReadState(ctx, "!x:example.org")
		h4, s4 := rs4.RoomHead, rs4.Screened
		if err != nil || s4 <= s3 {
			t.Errorf("after an opt-out: %d, %d (%v); before %d, %d", h4, s4, err, h3, s3)
		}
	})
}

// TestRoomToReadIsReadState: under one ScreenOnce, RoomToRead reads the
// room, its read state and the request's look at the change feed for
// opt-outs and policies in one query, and the request's ReadState of the
// room then asks none: the same room and the same state as Room and
// ReadState read apart, two queries fewer. The request keeps what it read
// (a later change reaches the next request, an opt-out too), and an
// unknown room is ErrNotFound, as from Room.
func TestRoomToReadIsReadState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		bg := context.Background()
		put(t, st, mkIn(t, "!x:example.org", "$c", "m.room.create", 1000, sk(""), `{"room_version":"10"}`),
			mkIn(t, "!x:example.org", "$m", "m.room.message", 2000, nil, `{"msgtype":"m.text","body":"hello"}`))
		if err := st.SetRoomSync(bg, store.RoomSync{RoomID: "!x:example.org", CompleteFrom: time.UnixMilli(1500), ReachedCreate: true}); err != nil {
			t.Fatal(err)
		}
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.ReadState(bg, "!x:example.org"); err != nil { // loads the copy of opt-outs
			t.Fatal(err)
		}
		wantRoom, err := st.Room(bg, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		wantState, err := st.ReadState(bg, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		if wantState.RoomHead == 0 || !wantState.Sync.ReachedCreate || wantState.Sync.CompleteFrom.UnixMilli() != 1500 {
			t.Fatalf("read state %+v: the room's head and sync state missing", wantState)
		}
		req := st.ScreenOnce(bg)
		before := count()
		r, err := st.RoomToRead(req, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := st.ReadState(req, "!x:example.org")
		if err != nil {
			t.Fatal(err)
		}
		if n := count() - before; n != 1 {
			t.Errorf("RoomToRead, then ReadState: %d queries, want 1 (the room with its state and screening's look)", n)
		}
		if !reflect.DeepEqual(r, wantRoom) {
			t.Errorf("RoomToRead = %+v, Room = %+v", r, wantRoom)
		}
		if !reflect.DeepEqual(rs, wantState) {
			t.Errorf("ReadState after RoomToRead = %+v, alone = %+v", rs, wantState)
		}

		put(t, st, mkIn(t, "!x:example.org", "$m2", "m.room.message", 3000, nil, `{"msgtype":"m.text","body":"later"}`))
		if again, err := st.ReadState(req, "!x:example.org"); err != nil || again.RoomHead != rs.RoomHead {
			t.Errorf("the same request's ReadState after a change: head %d (%v), want %d as it read", again.RoomHead, err, rs.RoomHead)
		}
		next := st.ScreenOnce(bg)
		if _, err := st.RoomToRead(next, "!x:example.org"); err != nil {
			t.Fatal(err)
		}
		later, err := st.ReadState(next, "!x:example.org")
		if err != nil || later.RoomHead <= rs.RoomHead {
			t.Errorf("the next request's ReadState: head %d (%v), want past %d", later.RoomHead, err, rs.RoomHead)
		}
		if _, err := st.OptOut(bg, "@alice:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		optedOut := st.ScreenOnce(bg)
		if _, err := st.RoomToRead(optedOut, "!x:example.org"); err != nil {
			t.Fatal(err)
		}
		if after, err := st.ReadState(optedOut, "!x:example.org"); err != nil || after.Screened <= later.Screened || after.Screening == later.Screening {
			t.Errorf("after an opt-out: screened %d, digest %.8s (%v); before %d, %.8s", after.Screened, after.Screening, err, later.Screened, later.Screening)
		}

		if _, err := st.RoomToRead(st.ScreenOnce(bg), "!nope:example.org"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RoomToRead of an unknown room: %v, want ErrNotFound", err)
		}
	})
}

// TestRoomToReadKeepsItsPlan: on PostgreSQL, RoomToRead's statement (the
// one a page served again from the cache asks) keeps a generic plan once
// a connection has run it a few times, instead of being planned anew on
// every request: planning was 0.3-0.4 ms of the statement's 0.5 on the
// bench's 1M archive, because the plan for a position past the feed's
// head looked cheaper than one for any position.
func TestRoomToReadKeepsItsPlan(t *testing.T) {
	st := storetest.Open(t, "postgres")
	ctx := context.Background()
	put(t, st, baseRoom(t)...)
	var evs []store.Event
	for i := range 3000 {
		evs = append(evs, mk(t, fmt.Sprintf("$plan%d", i), "m.room.message", "@alice:example.org", int64(5000+i), nil, `{"msgtype":"m.text","body":"hi"}`))
	}
	put(t, st, evs...)
	if err := st.AfterBulkWrite(ctx); err != nil {
		t.Fatal(err)
	}
	head, err := st.ReadState(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	query, args := store.RoomReadConsentSQL(string(room), head.RoomHead)
	for range 10 {
		rows, err := conn.QueryContext(ctx, query, args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	var generic, custom int
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, query).Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d generic plans, %d custom", generic, custom)
	if generic < 4 {
		t.Errorf("RoomToRead's statement was planned for its values %d times of 10 (generic plan %d times)", custom, generic)
	}
}
