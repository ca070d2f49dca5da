package ingest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

const orderBot = "@archive:example.org"

func openOrderRoom(t *testing.T, in *Ingester, now int64) {
	t.Helper()
	if _, err := in.IngestFrom(context.Background(), store.SourceState, orderEvents(t,
		orderLine("$create", event.TypeCreate, now-3_600_000, "", `{"room_version":"10"}`),
		orderLine("$join", event.TypeMember, now-3_500_000, "@admin:example.org", `{"membership":"join"}`),
		orderVisibility("$open", now-3_400_000, "world_readable"))); err != nil {
		t.Fatal(err)
	}
}

// TestSyncBeforeTransactionKeepsPublicMessage: the /sync path (filtered
// to state types) delivers the admin's "joined" before the appservice
// transaction that carries the message sent just before it (an AS backlog,
// a restart). The message was sent under world_readable, before the change
// in the room's order and by its stamp; it was withheld for ever. /sync is
// now judged by its own order alone and sets nothing.
func TestSyncBeforeTransactionKeepsPublicMessage(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			// /sync: the visibility change alone (syncFilter has no messages).
			if _, err := in.IngestFrom(ctx, store.SourceSync, orderEvents(t,
				orderVisibility("$close", now, "joined"))); err != nil {
				t.Fatal(err)
			}
			// The transaction, in the room's order: the message, then the change.
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t,
				orderMessage("$said-while-public", now-1000),
				orderVisibility("$close", now, "joined"))); err != nil {
				t.Fatal(err)
			}
			if got := archived(t, st, "$said-while-public"); !got["$said-while-public"] {
				t.Errorf("a message sent under world_readable, before the change in the room's order and by its stamp, was withheld")
			}
		})
	}
}

// TestSweepJudgesMissedMessageByItsOwnOrder: a message the homeserver
// did not push (what sweeps are for), sent while the room was
// world_readable, is read by the next sweep after the room went "joined".
// The sweep's first events were judged by the room's latest arrived
// visibility, not by the visibility at the sweep's start position, and it
// was withheld. A sweep is now judged by its own pages' order.
func TestSweepJudgesMissedMessageByItsOwnOrder(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, now-3_600_000, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, now-3_500_000, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", now-3_400_000, "world_readable"),
				orderMessage("$missed", now-1000),
				orderVisibility("$close", now, "joined"),
			}}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30})
			openOrderRoom(t, in, now)
			if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: orderRoomID, ForwardToken: "p3"}); err != nil {
				t.Fatal(err)
			}
			// Pushed: the change, not the message before it.
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, orderVisibility("$close", now, "joined"))); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Sweep(ctx, orderRoomID); err != nil {
				t.Fatal(err)
			}
			if got := archived(t, st, "$missed"); !got["$missed"] {
				t.Errorf("a message sent under world_readable that only the sweep brought was withheld")
			}
		})
	}
}

// sweepRaceRoom serves /messages like pagedRoom and, before serving the
// second forward page, runs during (a transaction arriving while the sweep
// asks for its next page).
type sweepRaceRoom struct {
	*pagedRoom
	mu     sync.Mutex
	pages  int
	during func()
}

func (z *sweepRaceRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("dir") == "f" {
		z.mu.Lock()
		z.pages++
		n := z.pages
		z.mu.Unlock()
		if n == 2 && z.during != nil {
			z.during()
		}
	}
	z.pagedRoom.ServeHTTP(w, r)
}

// TestSweepRereadDoesNotRewindArrived: a sweep re-reads what transactions
// already delivered, page by page; a page ending on an old "world_readable"
// set the room's arrived visibility back to it although a "joined" (here
// stamped two hours ahead, the case the change is for) arrived after it.
// A message sent under "joined", pushed while the sweep asked for its next
// page, was published, and the room listed again meanwhile. A sweep now
// sets nothing.
func TestSweepRereadDoesNotRewindArrived(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			ahead := now + 2*3_600_000
			evs := []string{
				orderLine("$create", event.TypeCreate, now-3_600_000, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, now-3_500_000, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", now-3_400_000, "world_readable"),
			}
			for i := range backfillPage - 1 {
				evs = append(evs, orderMessage(fmt.Sprintf("$f%04d", i), now-3_000_000+int64(i)))
			}
			evs = append(evs, orderVisibility("$close", ahead, "joined"))
			hs := &sweepRaceRoom{pagedRoom: &pagedRoom{events: evs}}
			var duringErr error
			hs.during = func() {
				_, duringErr = in.IngestTransaction(ctx, "t-members-only", orderEvents(t, orderMessage("$members-only", now)))
			}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30})
			// Everything came by transactions first, in order.
			if _, err := in.IngestFrom(ctx, store.SourceState, orderEvents(t, evs[:3]...)); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, evs[3:]...)); err != nil {
				t.Fatal(err)
			}
			if v, _ := st.ArrivedVisibility(ctx, orderRoomID); v != "joined" {
				t.Fatalf("arrived %q before the sweep", v)
			}
			// The last sweep ended just before $open.
			if err := st.SetRoomSync(ctx, store.RoomSync{RoomID: orderRoomID, ForwardToken: "p2"}); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Sweep(ctx, orderRoomID); err != nil {
				t.Fatal(err)
			}
			if duringErr != nil {
				t.Fatal(duringErr)
			}
			if got := archived(t, st, "$members-only"); got["$members-only"] {
				t.Errorf("a message sent after \"joined\" (in the room's order) was published: the sweep's re-read of an old world_readable rewound rooms.arrived_visibility")
			}
		})
	}
}

// TestRedeliveryDoesNotRewindArrived: an old "world_readable" delivered again
// after a later "joined" came (the initial /sync at every start re-sends
// the room's last state-type events, computed before a transaction that
// is ingested first; the /state read on joining, fetched before a change
// that a transaction brings first; a transaction ID a homeserver resends
// with more events) set rooms.arrived_visibility back to world_readable
// (store/write.go put took a copy already stored). With the "joined"
// stamped ahead, the next message under "joined" was published and the
// room listed. Only a copy new to the archive sets it now, and /sync none.
func TestRedeliveryDoesNotRewindArrived(t *testing.T) {
	for _, d := range storetest.Dialects {
		for _, src := range []store.Source{store.SourceSync, store.SourceState, store.SourceTransaction} {
			t.Run(d+"/"+string(src), func(t *testing.T) {
				ctx := context.Background()
				st := storetest.Open(t, d)
				in := New(st, storetest.Logger(t), orderBot)
				now := time.Now().UnixMilli()
				openOrderRoom(t, in, now)
				if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, orderVisibility("$close", now+2*3_600_000, "joined"))); err != nil {
					t.Fatal(err)
				}
				old := orderEvents(t, orderVisibility("$open", now-3_400_000, "world_readable"))
				var err error
				if src == store.SourceTransaction {
					_, err = in.IngestTransaction(ctx, "t0", old)
				} else {
					_, err = in.IngestFrom(ctx, src, old)
				}
				if err != nil {
					t.Fatal(err)
				}
				if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$members-only", now))); err != nil {
					t.Fatal(err)
				}
				v, _ := st.ArrivedVisibility(ctx, orderRoomID)
				room, _ := st.Room(ctx, orderRoomID)
				if got := archived(t, st, "$members-only"); got["$members-only"] || v != "joined" || room.Shown() {
					t.Errorf("after a redelivery of the old world_readable: arrived %q, room shown %v, members-only message published %v",
						v, room.Shown(), got["$members-only"])
				}
			})
		}
	}
}

// TestBackfillOrderReadsKeysAsTheImporterDoes: Backfill's probe decodes each
// event with encoding/json, which matches "Type", "State_key" and
// "Content" to its fields whatever their case; the importer's event.Parse
// does not. A remote server's message event carrying such extra top-level
// keys (federation keeps unknown keys) was recorded in historyOrder as a
// "joined", and every public message after it in the room's order left
// out of the backfill. The probe now reads it with event.Parse.
func TestBackfillOrderReadsKeysAsTheImporterDoes(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			crafted := `{"event_id":"$crafted","room_id":"` + orderRoomID + `","type":"m.room.message","sender":"@mallory:evil.example","origin_server_ts":150,` +
				`"content":{"msgtype":"m.text","body":"hi"},"Type":"m.room.history_visibility","State_key":"","Content":{"history_visibility":"joined"}}`
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, 1, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, 2, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$open", 3, "world_readable"),
				orderMessage("$m1", 100),
				crafted,
				orderMessage("$m2", 200),
			}}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30})
			if rep, err := m.Backfill(ctx, orderRoomID, nil); err != nil || !rep.ReachedCreate {
				t.Fatalf("Backfill = %+v, %v", rep, err)
			}
			if got := archived(t, st, "$m1", "$crafted", "$m2"); !got["$m1"] || !got["$crafted"] || !got["$m2"] {
				t.Errorf("public messages %v; want $m1, $crafted and $m2 (the room was world_readable throughout)", got)
			}
		})
	}
}

// TestImportReopensARoomClosedInOrder: a room went "joined" live (the
// bot then left it, LeaveNonPublicAfter); the operator later imports its
// export, in which the room was made world_readable again. The import
// stores the later messages public (judged by timestamps, as operator
// imports are), but rooms.arrived_visibility stayed "joined", which
// refreshRoom put over the summary: the room stayed hidden for good, with
// no live history-visibility event ever to come. A visibility event
// stored later and stamped after the arrived one's time is a later
// change, which ends the order's judgement (store.arrivedVisibilitySQL).
func TestImportReopensARoomClosedInOrder(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t, orderVisibility("$close", now-3_000_000, "joined"))); err != nil {
				t.Fatal(err)
			}
			f := t.TempDir() + "/export.ndjson"
			body := orderVisibility("$reopen", now-2_000_000, "world_readable") + "\n" + orderMessage("$later", now-1_000_000) + "\n"
			if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := in.ImportFile(ctx, f, ImportOptions{Format: FormatNDJSON}); err != nil {
				t.Fatal(err)
			}
			room, err := st.Room(ctx, orderRoomID)
			if err != nil {
				t.Fatal(err)
			}
			got := archived(t, st, "$later")
			if !got["$later"] || room.HistoryVisibility != "world_readable" || !room.Shown() {
				t.Errorf("after importing the reopened history: $later public %v, room %q shown %v; want public, world_readable, shown",
					got["$later"], room.HistoryVisibility, room.Shown())
			}
		})
	}
}

// TestRefusedLastVisibilityKeepsEarlierOne: only the batch's last
// history-visibility event carried store.Event.Arrived. When the database
// refused that one (quarantined), the "joined" before it in the same
// transaction, which was stored, never reached rooms.arrived_visibility:
// the room stayed world_readable by the room's order, and with the
// "joined" stamped ahead the members-only message after it was published.
// Each now carries its order, and the latest stored counts.
func TestRefusedLastVisibilityKeepsEarlierOne(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st, _ := storetest.Refusing(t, d, "$poison")
			in := New(st, storetest.Logger(t), orderBot)
			now := time.Now().UnixMilli()
			openOrderRoom(t, in, now)
			if _, err := in.IngestTransaction(ctx, "t1", orderEvents(t,
				orderVisibility("$close", now+2*3_600_000, "joined"),
				orderVisibility("$poison", now+2*3_600_000+1, "joined"))); err != nil {
				t.Fatal(err)
			}
			if _, err := in.IngestTransaction(ctx, "t2", orderEvents(t, orderMessage("$members-only", now))); err != nil {
				t.Fatal(err)
			}
			v, _ := st.ArrivedVisibility(ctx, orderRoomID)
			if got := archived(t, st, "$members-only"); got["$members-only"] || v != "joined" {
				t.Errorf("arrived %q, members-only message published %v; want joined, withheld", v, got["$members-only"])
			}
		})
	}
}

// TestBoundedBackfillReadsPreviousVisibility: the attack the change
// is for (a "world_readable" stamped years back over members-only
// history) still worked on any backfill bounded short of the room's
// creation (archive.backfill_limit, backfill_max_bytes): the spool ended
// before the "shared" that was in force, historyOrder.before answered ""
// for the lines older than the oldest visibility in the spool, and those
// were judged by timestamps alone. The /messages event says what it
// replaced (unsigned.prev_content), which the order now reads.
func TestBoundedBackfillReadsPreviousVisibility(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			in := New(st, storetest.Logger(t), orderBot)
			open := strings.TrimSuffix(orderVisibility("$open", 50, "world_readable"), "}") +
				`,"unsigned":{"prev_content":{"history_visibility":"shared"}}}`
			hs := &pagedRoom{events: []string{
				orderLine("$create", event.TypeCreate, 1, "", `{"room_version":"10"}`),
				orderLine("$join", event.TypeMember, 2, "@admin:example.org", `{"membership":"join"}`),
				orderVisibility("$shared", 3, "shared"),
				orderMessage("$m0", 90),  // members only, beyond the bound
				orderMessage("$m1", 100), // members only, in the spool
				open,                     // stamped back before $m1
				orderMessage("$m2", 200),
			}}
			m := orderManager(t, hs, in, st, ManagerConfig{BackfillMaxBytes: 1 << 30, BackfillLimit: 3})
			rep, err := m.Backfill(ctx, orderRoomID, nil)
			if err != nil || !rep.Bounded {
				t.Fatalf("Backfill = %+v, %v", rep, err)
			}
			if got := archived(t, st, "$m1", "$m2"); got["$m1"] || !got["$m2"] {
				t.Errorf("public %v; want $m2 alone ($m1 was said under shared, before the backdated world_readable in the room's order)", got)
			}
		})
	}
}
