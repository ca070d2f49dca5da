package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// orderRoom is a room of events as JSON lines, in the room's order.
const orderRoomID = "!order:example.org"

func orderLine(evID, typ string, ts int64, stateKey, content string) string {
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
	}
	return fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":%q,"sender":"@admin:example.org","origin_server_ts":%d%s,"content":%s}`,
		evID, orderRoomID, typ, ts, sk, content)
}

func orderVisibility(evID string, ts int64, v string) string {
	return orderLine(evID, event.TypeHistoryVisibility, ts, "", fmt.Sprintf(`{"history_visibility":%q}`, v))
}

func orderMessage(evID string, ts int64) string {
	return orderLine(evID, "m.room.message", ts, "-", fmt.Sprintf(`{"msgtype":"m.text","body":"said in %s"}`, evID))
}

func orderEvents(t *testing.T, lines ...string) []*event.Event {
	t.Helper()
	var evs []*event.Event
	for _, l := range lines {
		ev, err := event.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// orderManager is a Manager of in over st whose homeserver's client API
// is hs (a fake /messages), with a spool directory of the test's.
func orderManager(t *testing.T, hs http.Handler, in *Ingester, st *store.Store, cfg ManagerConfig) *Manager {
	t.Helper()
	srv := httptest.NewServer(hs)
	t.Cleanup(srv.Close)
	client, err := NewClient(srv.URL, "as-token", orderBot)
	if err != nil {
		t.Fatal(err)
	}
	cfg.SpoolDir = t.TempDir()
	return NewManager(cfg, client, in, st, orderBot, storetest.Logger(t))
}

// archived reports which of the messages the archive holds as public.
func archived(t *testing.T, st *store.Store, ids ...string) map[string]bool {
	t.Helper()
	var evIDs []id.EventID
	for _, s := range ids {
		evIDs = append(evIDs, id.EventID(s))
	}
	got, err := st.EventsByID(context.Background(), evIDs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range got {
		if e.Public {
			out[string(e.ID)] = true
		}
	}
	return out
}

// TestFutureStampedJoinedStopsArchiving: a room admin (or a server whose
// clock runs ahead) sets the history to "joined" in an event stamped two
// hours or eighty years ahead. The members' clients show the room as
// members-only from then on; the archive, judging by timestamps, took
// "world_readable" to be in force until the stamp (current state passes
// over an event stamped more than an hour after it arrived) and published
// what was said after it, and listed the room. Now the visibility that
// came last in the room's order counts too: what follows it is withheld,
// the room is hidden, after a restart as before, until a world_readable
// visibility comes again.
func TestFutureStampedJoinedStopsArchiving(t *testing.T) {
	const bot = "@archive:example.org"
	for _, d := range storetest.Dialects {
		for _, ahead := range []time.Duration{2 * time.Hour, 80 * 365 * 24 * time.Hour} {
			t.Run(fmt.Sprintf("%s/%s", d, ahead), func(t *testing.T) {
				ctx := context.Background()
				st := storetest.Open(t, d)
				in := New(st, storetest.Logger(t), bot)
				now := time.Now().UnixMilli()
				min := int64(time.Minute / time.Millisecond)
				// The state read on joining, then the room's messages.
				if _, err := in.IngestFrom(ctx, store.SourceState, orderEvents(t,
					orderLine("$create", event.TypeCreate, now-60*min, "", `{"room_version":"10"}`),
					orderLine("$join", event.TypeMember, now-59*min, "@admin:example.org", `{"membership":"join"}`),
					orderVisibility("$open", now-58*min, "world_readable"))); err != nil {
					t.Fatal(err)
				}
				if v, err := st.ArrivedVisibility(ctx, orderRoomID); err != nil || v != "world_readable" {
					t.Fatalf("arrived visibility after the state read on joining: %q, %v", v, err)
				}
				txn := func(in *Ingester, name string, lines ...string) {
					t.Helper()
					if _, err := in.IngestTransaction(ctx, name, orderEvents(t, lines...)); err != nil {
						t.Fatal(err)
					}
				}
				txn(in, "t1", orderMessage("$before", now-10*min))
				txn(in, "t2", orderVisibility("$close", now+ahead.Milliseconds(), "joined"))
				txn(in, "t3", orderMessage("$members-only", now))
				if got := archived(t, st, "$before", "$members-only"); !got["$before"] || got["$members-only"] {
					t.Errorf("public messages %v; want $before alone", got)
				}
				room, err := st.Room(ctx, orderRoomID)
				if err != nil {
					t.Fatal(err)
				}
				if room.HistoryVisibility != "joined" || room.Shown() {
					t.Errorf("room history visibility %q, shown %v; want joined, hidden", room.HistoryVisibility, room.Shown())
				}
				// A restart reads the room's order back from the store.
				in2 := New(st, storetest.Logger(t), bot)
				txn(in2, "t4", orderMessage("$members-only-2", now+1000))
				if got := archived(t, st, "$members-only-2"); got["$members-only-2"] {
					t.Errorf("after a restart, a members-only message was archived")
				}
				// Opened again in the room's order (and by its time).
				txn(in2, "t5", orderVisibility("$reopen", now+2000, "world_readable"))
				txn(in2, "t6", orderMessage("$after", now+3000))
				if got := archived(t, st, "$after"); !got["$after"] {
					t.Errorf("a message after the room was opened again was not archived")
				}
				if room, err := st.Room(ctx, orderRoomID); err != nil || room.HistoryVisibility != "world_readable" || !room.Shown() {
					t.Errorf("room %q shown %v (%v); want world_readable, shown", room.HistoryVisibility, room.Shown(), err)
				}
			})
		}
	}
}

// TestOneTransactionsVisibilityOrder: two visibility changes in one
// transaction count in the order they came, not by their stamps (the
// store is given state events sorted by them): the later "joined",
// stamped before the "world_readable" it follows, closes the room.
func TestOneTransactionsVisibilityOrder(t *testing.T) {
	const bot = "@archive:example.org"
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), bot)
			now := time.Now().UnixMilli()
			if _, err := in.IngestFrom(ctx, store.SourceState, orderEvents(t,
				orderLine("$create", event.TypeCreate, now-60000, "", `{"room_version":"10"}`),
				orderVisibility("$open", now-50000, "world_readable"))); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t,
				orderVisibility("$open-again", now-1000, "world_readable"),
				orderVisibility("$close", now-5000, "joined"),
				orderMessage("$members-only", now))); err != nil {
				t.Fatal(err)
			}
			if got := archived(t, st, "$members-only"); got["$members-only"] {
				t.Errorf("a message after the room's last visibility, joined, was archived")
			}
			if v, err := st.ArrivedVisibility(ctx, orderRoomID); err != nil || v != "joined" {
				t.Errorf("arrived visibility %q, %v; want joined", v, err)
			}
			if room, err := st.Room(ctx, orderRoomID); err != nil || room.Shown() {
				t.Errorf("room %q shown %v (%v); want hidden", room.HistoryVisibility, room.Shown(), err)
			}
		})
	}
}

// TestBackfillJudgesVisibilityByTheRoomsOrder: a backfill reads history
// back through /messages, in the room's order. Judged by timestamps alone,
// a "world_readable" an admin stamped years back published the
// members-only messages sent before it, and a "joined" stamped ahead left
// the messages after it public. Each event is now judged by the
// visibility before it in the order the pages give as well.
func TestBackfillJudgesVisibilityByTheRoomsOrder(t *testing.T) {
	const bot = "@archive:example.org"
	for _, d := range storetest.Dialects {
		for _, tc := range []struct {
			name   string
			events []string
			public []string // of the messages $m1, $m2
		}{
			{"backdated world_readable", []string{
				orderVisibility("$shared", 3, "shared"),
				orderMessage("$m1", 100), // members only
				orderVisibility("$open", 50, "world_readable"),
				orderMessage("$m2", 200),
			}, []string{"$m2"}},
			{"future-stamped joined", []string{
				orderVisibility("$open", 3, "world_readable"),
				orderMessage("$m1", 100),
				orderVisibility("$close", 4_000_000_000_000, "joined"),
				orderMessage("$m2", 200), // members only
			}, []string{"$m1"}},
			{"in time", []string{
				orderVisibility("$open", 3, "world_readable"),
				orderMessage("$m1", 100),
				orderMessage("$m2", 200),
			}, []string{"$m1", "$m2"}},
		} {
			t.Run(d+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				st := storetest.Open(t, d)
				in := New(st, storetest.Logger(t), bot)
				hs := &pagedRoom{events: append([]string{
					orderLine("$create", event.TypeCreate, 1, "", `{"room_version":"10"}`),
					orderLine("$join", event.TypeMember, 2, "@admin:example.org", `{"membership":"join"}`),
				}, tc.events...)}
				m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30})
				if rep, err := m.Backfill(ctx, orderRoomID, nil); err != nil || !rep.ReachedCreate {
					t.Fatalf("Backfill = %+v, %v", rep, err)
				}
				got := archived(t, st, "$m1", "$m2")
				var public []string
				for _, m := range []string{"$m1", "$m2"} {
					if got[m] {
						public = append(public, m)
					}
				}
				if strings.Join(public, " ") != strings.Join(tc.public, " ") {
					t.Errorf("public messages %v; want %v", public, tc.public)
				}
			})
		}
	}
}

// TestSweepDoesNotMoveTheArrivedVisibility: a forward sweep re-reads, from
// its last position, events the homeserver mostly pushed already. Judged
// from the visibility pushed last, a message the pushes missed, sent
// before the room was closed, was withheld for good; and a page that
// re-read the room's earlier "world_readable" (ending before the "joined"
// pushed since) opened the room again, publishing what was pushed next.
// A sweep is now judged by its own order alone and sets nothing.
func TestSweepDoesNotMoveTheArrivedVisibility(t *testing.T) {
	const bot = "@archive:example.org"
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), bot)
			now := time.Now().UnixMilli()
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, now-60000, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, now-59000, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", now-58000, "world_readable"),
				orderMessage("$missed", now-30000), // public, but not pushed
			}}
			if _, err := in.IngestFrom(ctx, store.SourceState, orderEvents(t, hs.events[:3]...)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, orderVisibility("$close", now-1000, "joined"))); err != nil {
				t.Fatal(err)
			}
			m := orderManager(t, hs, in, st, ManagerConfig{})
			for _, from := range []string{"p3", "p2"} { // the message alone; then the visibility before it too
				if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: orderRoomID, ForwardToken: from}); err != nil {
					t.Fatal(err)
				}
				if _, err := m.Sweep(ctx, orderRoomID); err != nil {
					t.Fatal(err)
				}
				if got := archived(t, st, "$missed"); !got["$missed"] {
					t.Errorf("sweep from %s: a public message the pushes missed was withheld", from)
				}
			}
			if v, err := st.ArrivedVisibility(ctx, orderRoomID); err != nil || v != "joined" {
				t.Errorf("arrived visibility %q, %v after the sweeps; want joined", v, err)
			}
			if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$members-only", now))); err != nil {
				t.Fatal(err)
			}
			if got := archived(t, st, "$members-only"); got["$members-only"] {
				t.Errorf("a message pushed after the room was closed was archived")
			}
			if room, err := st.Room(ctx, orderRoomID); err != nil || room.Shown() {
				t.Errorf("room %q shown %v (%v); want hidden", room.HistoryVisibility, room.Shown(), err)
			}
		})
	}
}
