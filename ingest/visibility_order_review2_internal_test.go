package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestSyncFirstDoesNotHideAPushedChange (helper-79's review): /sync (a
// long poll, often faster than the appservice's push) stored the admin's
// "joined" stamped 2h ahead first; the transaction's copy was then a
// duplicate and never set rooms.arrived_visibility, and the /sync copy,
// not "in time", did not end the order either: members-only messages of
// the next transaction were published and the room stayed listed. The
// first push of a visibility event sets it now, whoever stored it first
// (pushed_visibility).
func TestSyncFirstDoesNotHideAPushedChange(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			closeEv := orderVisibility("$close", now+2*3_600_000, "joined")
			if _, err := in.IngestFrom(ctx, store.SourceSync, orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$members-only", now+1000))); err != nil {
				t.Fatal(err)
			}
			v, _ := st.ArrivedVisibility(ctx, orderRoomID)
			room, _ := st.Room(ctx, orderRoomID)
			if got := archived(t, st, "$members-only"); got["$members-only"] {
				t.Errorf("members-only message published (arrived=%q, room hv=%q shown=%v)", v, room.HistoryVisibility, room.Shown())
			}
			if room.Shown() {
				t.Errorf("room shown after a 'joined' came (hv=%q, arrived=%q)", room.HistoryVisibility, v)
			}
		})
	}
}

// TestBoundedBackfillWithoutVisibilityInSpool (helper-79's review): a
// backfill bounded short of the room's last visibility change (no
// visibility event in the spool) judged by timestamps alone, though the
// room's order (rooms.arrived_visibility "joined") says every line of the
// spool came after the "joined" stamped ahead. Such a spool is now judged
// by the room's visibility in its order when the backfill began.
func TestBoundedBackfillWithoutVisibilityInSpool(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			closeEv := orderVisibility("$close", now+2*3_600_000, "joined")
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, now-3_600_000, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, now-3_500_000, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", now-3_400_000, "world_readable"),
				closeEv,
				orderMessage("$m1", now+1000),
				orderMessage("$m2", now+2000),
				orderMessage("$m3", now+3000),
				orderMessage("$m4", now+4000),
			}}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30, BackfillLimit: 3})
			rep, err := m.Backfill(ctx, orderRoomID, nil)
			if err != nil || !rep.Bounded {
				t.Fatalf("Backfill = %+v, %v", rep, err)
			}
			if got := archived(t, st, "$m2", "$m3", "$m4"); len(got) > 0 {
				t.Errorf("members-only messages stored public by a bounded backfill: %v", got)
			}
		})
	}
}

// TestSyncFirstChangeWithinTheHour is TestSyncFirstDoesNotHideAPushedChange
// with the "joined" stamped 50 minutes ahead (in time: the /sync copy
// ended the order instead, and timestamps kept the room world-readable
// for up to the hour).
func TestSyncFirstChangeWithinTheHour(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			closeEv := orderVisibility("$close", now+50*60_000, "joined")
			if _, err := in.IngestFrom(ctx, store.SourceSync, orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$members-only", now+1000))); err != nil {
				t.Fatal(err)
			}
			v, _ := st.ArrivedVisibility(ctx, orderRoomID)
			if got := archived(t, st, "$members-only"); got["$members-only"] {
				t.Errorf("members-only message published (arrived=%q)", v)
			}
		})
	}
}

// TestSweepStartsFromTheVisibilityItLeft (helper-79's review): a sweep
// starting after a pushed "joined" stamped 2h ahead (its first page holds
// no visibility event) judged a message the pushes missed by timestamps
// alone: members-only history published. A sweep now starts from the
// visibility the last one (or the backfill) left (RoomSync.SweepVisibility).
func TestSweepStartsFromTheVisibilityItLeft(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			closeEv := orderVisibility("$close", now+2*3_600_000, "joined")
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, now-3_600_000, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, now-3_500_000, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", now-3_400_000, "world_readable"),
				closeEv,
				orderMessage("$pushed", now+500),
			}}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30})
			openOrderRoom(t, in, now)
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, closeEv)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$pushed", now+500))); err != nil {
				t.Fatal(err)
			}
			// The last sweep started before the change and ended after
			// $pushed; the next one starts there, after the change.
			if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: orderRoomID, ForwardToken: "p3"}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Sweep(ctx, orderRoomID); err != nil {
				t.Fatal(err)
			}
			hs.mu.Lock()
			hs.events = append(hs.events, orderMessage("$missed", now+1000))
			hs.mu.Unlock()
			if _, err := m.Sweep(ctx, orderRoomID); err != nil {
				t.Fatal(err)
			}
			v, _ := st.ArrivedVisibility(ctx, orderRoomID)
			if got := archived(t, st, "$pushed", "$missed"); got["$missed"] || got["$pushed"] {
				t.Errorf("members-only message published by a sweep: %v (arrived=%q)", got, v)
			}
		})
	}
}
