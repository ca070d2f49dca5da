package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// A room with a one-day max_lifetime: older messages are hidden at once,
// the purge deletes them in batches with tombstones, and nothing brings
// them back.
func TestRetentionExpiresAndPurges(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}, PurgeBatch: 7})
			now := time.Now().UnixMilli()
			old := now - 3*24*3600*1000
			evs := baseRoom(t)
			for i := range evs {
				evs[i].OriginTS = old - 1000 + int64(i) // state, older than the messages
			}
			var expired, fresh []store.Event
			for i := range 20 {
				expired = append(expired, mk(t, fmt.Sprintf("$old%02d", i), "m.room.message", "@alice:example.org", old+int64(i), nil, `{"msgtype":"m.text","body":"old secret"}`))
			}
			fresh = append(fresh, mk(t, "$new", "m.room.message", "@alice:example.org", now-3600*1000, nil, `{"msgtype":"m.text","body":"recent"}`))
			put(t, st, append(append(evs, expired...), fresh...)...)
			// Before the policy: all there.
			if got, _ := st.DayEvents(ctx, room, old-24*3600*1000, now+1); countType(got, "m.room.message") != 21 {
				t.Fatalf("before the policy: %d messages", countType(got, "m.room.message"))
			}
			put(t, st, mk(t, "$ret", "m.room.retention", "@alice:example.org", now-60000, sk(""), `{"max_lifetime":86400000}`))
			r, _ := st.Room(ctx, room)
			if r.MaxLifetime != 24*time.Hour {
				t.Fatalf("room max lifetime = %v", r.MaxLifetime)
			}
			// Hidden at once, before any purge.
			got, _ := st.DayEvents(ctx, room, old-24*3600*1000, now+1)
			if n := countType(got, "m.room.message"); n != 1 {
				t.Errorf("after the policy: %d messages shown, want 1", n)
			}
			if countType(got, "m.room.create") != 1 {
				t.Error("state events must never expire")
			}
			e, err := st.EventByID(ctx, "$old03")
			if err != nil || !e.Expired || string(e.Content) != "{}" {
				t.Errorf("EventByID of an expired message: expired=%v content=%s err=%v", e.Expired, e.Content, err)
			}
			if evs, _ := st.EventsByID(ctx, []id.EventID{"$old03", "$new"}); len(evs) != 1 {
				t.Errorf("EventsByID returned %d events, want only the fresh one", len(evs))
			}
			// Dry run: counts, deletes nothing.
			per, err := st.PurgeExpired(ctx, true, nil)
			if err != nil || per[room] != 20 {
				t.Fatalf("dry run: %v %v", per, err)
			}
			if _, err := st.EventByID(ctx, "$old00"); err != nil {
				t.Fatal("the dry run deleted something")
			}
			before, _ := st.Changes(ctx, 0, 100000)
			per, err = st.PurgeExpired(ctx, false, nil)
			if err != nil || per[room] != 20 {
				t.Fatalf("purge: %v %v", per, err)
			}
			for _, e := range expired {
				if _, err := st.EventByID(ctx, e.ID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("%s survived the purge: %v", e.ID, err)
				}
				if why, err := st.Tombstone(ctx, e.ID); err != nil || why != store.TombstoneExpired {
					t.Fatalf("tombstone of %s: %q %v", e.ID, why, err)
				}
			}
			after, _ := st.Changes(ctx, 0, 100000)
			if n := len(after) - len(before); n != 20 {
				t.Errorf("the purge appended %d changes, want one per event (20)", n)
			}
			// Idempotent, and a redelivery cannot bring them back.
			if per, err := st.PurgeExpired(ctx, false, nil); err != nil || len(per) != 0 {
				t.Errorf("second purge: %v %v", per, err)
			}
			res := put(t, st, expired...)
			if res.Stored != 0 || res.Withdrawn != 20 {
				t.Errorf("re-delivered expired events: %+v", res)
			}
			if _, err := st.EventByID(ctx, "$new"); err != nil {
				t.Error("a fresh message was purged")
			}
		})
	}
}

// The latest event of a room is never purged, even expired.
func TestRetentionKeepsTheLatestEvent(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(time.Hour)}})
	evs := baseRoom(t)
	put(t, st, append(evs,
		mk(t, "$a", "m.room.message", "@alice:example.org", 5000, nil, `{"msgtype":"m.text","body":"a"}`),
		mk(t, "$b", "m.room.message", "@alice:example.org", 6000, nil, `{"msgtype":"m.text","body":"b"}`))...)
	if per, err := st.PurgeExpired(ctx, false, nil); err != nil || per[room] != 1 {
		t.Fatalf("purge: %v %v", per, err)
	}
	e, err := st.EventByID(ctx, "$b")
	if err != nil || !e.Expired {
		t.Errorf("the latest event: %v, expired=%v (kept, but hidden)", err, e.Expired)
	}
	// The kept event gets one change, so the index drops it; purging
	// again adds none.
	fed := func() int {
		changes, err := st.Changes(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, c := range changes {
			if c.EventID == "$b" && c.Kind == store.ChangeExpired {
				n++
			}
		}
		return n
	}
	if n := fed(); n != 1 {
		t.Errorf("%d expiry changes for the kept latest event, want 1", n)
	}
	if per, err := st.PurgeExpired(ctx, false, nil); err != nil || len(per) != 0 || fed() != 1 {
		t.Errorf("purging again: %v %v, %d changes", per, err, fed())
	}
}

func countType(evs []store.Event, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestOptOutTakedownEraseAndPurgeRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$m1", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`),
			mk(t, "$m2", "m.room.message", "@alice:example.org", 3000, nil, `{"msgtype":"m.text","body":"alice speaks"}`),
			mk(t, "$bobjoin", "m.room.member", "@bob:example.org", 1500, sk("@bob:example.org"), `{"membership":"join","displayname":"Bobby"}`),
		)...)
		// Opt-out: content withdrawn everywhere, a user change in the feed.
		if changed, err := st.OptOut(ctx, "@bob:example.org", "operator"); err != nil || !changed {
			t.Fatalf("OptOut: %v %v", changed, err)
		}
		if again, _ := st.OptOut(ctx, "@bob:example.org", "dm"); again {
			t.Error("a second opt-out reported a change")
		}
		day, _ := st.DayEvents(ctx, room, 0, 10000)
		for _, e := range day {
			if e.ID == "$m1" && (!e.OptedOut || string(e.Content) != "{}" || e.SenderName != "") {
				t.Errorf("opted-out message shown: %+v", e)
			}
			if e.ID == "$m2" && e.OptedOut {
				t.Error("another user's message was hidden")
			}
		}
		cs, _ := st.Changes(ctx, 0, 1000)
		if last := cs[len(cs)-1]; last.Kind != store.ChangeUser || last.UserID != "@bob:example.org" {
			t.Errorf("last change = %+v", last)
		}
		if changed, err := st.OptIn(ctx, "@bob:example.org"); err != nil || !changed {
			t.Fatalf("OptIn: %v %v", changed, err)
		}
		if e, _ := st.EventByID(ctx, "$m1"); e.OptedOut || !json.Valid(e.Content) || string(e.Content) == "{}" {
			t.Error("opting in did not show the message again")
		}
		// Takedown: stripped like a redaction, with the reason.
		if err := st.Takedown(ctx, "$m2", "court order"); err != nil {
			t.Fatal(err)
		}
		e, _ := st.EventByID(ctx, "$m2")
		red, err := st.RedactionOf(ctx, "$m2")
		if !e.Redacted || err != nil || red.Kind != store.RedactionTakedown || red.Reason != "court order" {
			t.Errorf("takedown: redacted=%v redaction=%+v err=%v", e.Redacted, red, err)
		}
		// Erase a user: messages deleted with tombstones, state stripped,
		// opted out for the future.
		if n, err := st.EraseUser(ctx, "@bob:example.org", true); err != nil || n != 2 {
			t.Errorf("erase dry run = %d, %v (want 1 message + 1 state event)", n, err)
		}
		if n, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil || n != 2 {
			t.Errorf("erase = %d, %v", n, err)
		}
		if why, err := st.Tombstone(ctx, "$m1"); err != nil || why != store.TombstoneErased {
			t.Errorf("tombstone after erasure: %q %v", why, err)
		}
		if m, _ := st.EventByID(ctx, "$bobjoin"); !m.Redacted || displayNameOf(m) != "" {
			t.Errorf("bob's member event kept its display name: %s", m.Raw)
		}
		if out, _ := st.OptedOut(ctx, "@bob:example.org"); !out {
			t.Error("an erased user is not opted out")
		}
		// Hide, then purge the room.
		if err := st.HideRoom(ctx, room, true, "spam"); err != nil {
			t.Fatal(err)
		}
		if r, _ := st.Room(ctx, room); r.Shown() {
			t.Error("hide-room did not hide")
		}
		n, err := st.PurgeRoom(ctx, room, false)
		if err != nil || n == 0 {
			t.Fatalf("purge-room: %d %v", n, err)
		}
		if evs, _ := st.DayEvents(ctx, room, 0, 1<<40); len(evs) != 0 {
			t.Errorf("%d events left after purge-room", len(evs))
		}
		res := put(t, st, mk(t, "$later", "m.room.message", "@alice:example.org", 9000, nil, `{"msgtype":"m.text","body":"after the purge"}`))
		if res.Stored != 0 || res.Withdrawn != 1 {
			t.Errorf("an event of a purged room was stored: %+v", res)
		}
		if r, _ := st.Room(ctx, room); !r.Purged || r.Shown() {
			t.Error("the purged room is not marked purged")
		}
		if err := st.LogOperator(ctx, store.OperatorAction{At: time.Now(), Actor: "ops", Command: "purge-room", Target: string(room), Affected: n}); err != nil {
			t.Fatal(err)
		}
		if log, _ := st.OperatorLog(ctx, 10); len(log) != 1 || log[0].Actor != "ops" {
			t.Errorf("operator log = %+v", log)
		}
	})
}

func displayNameOf(e store.Event) string {
	var c struct {
		Displayname string `json:"displayname"`
	}
	_ = json.Unmarshal(e.Content, &c)
	return c.Displayname
}

// Erasing a moderator erases the reasons they gave for redactions too; the
// message they redacted stays redacted.
func TestErasingARedactorErasesTheirReasons(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$m", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"spam"}`),
			mk(t, "$r", "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$m","reason":"the moderator's own words"}`),
		)...)
		if _, err := st.EraseUser(ctx, "@alice:example.org", false); err != nil {
			t.Fatal(err)
		}
		r, err := st.RedactionOf(ctx, "$m")
		if err != nil || r.Reason != "" || r.Sender != "" {
			t.Errorf("redaction after erasing its author: %+v, %v", r, err)
		}
		if e, err := st.EventByID(ctx, "$m"); err != nil || !e.Redacted {
			t.Errorf("the redacted message: %v, redacted=%v", err, e.Redacted)
		}
	})
}

// Paging the room's redactions by (time, redaction ID) skips none that
// share a millisecond at a page boundary (a moderation bot's bulk clean-up).
func TestRoomRedactionsPageWithinOneMillisecond(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		for _, n := range []string{"1", "2", "3"} {
			evs = append(evs,
				mk(t, "$m"+n, "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"spam"}`),
				mk(t, "$r"+n, "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$m`+n+`"}`))
		}
		put(t, st, evs...)
		first, err := st.RoomRedactions(ctx, room, 0, "", 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("first page: %v, %v", first, err)
		}
		last := first[1]
		rest, err := st.RoomRedactions(ctx, room, last.TS.UnixMilli(), last.RedactionID, 2)
		if err != nil || len(rest) != 1 || rest[0].RedactionID == first[0].RedactionID || rest[0].RedactionID == last.RedactionID {
			t.Errorf("second page: %+v, %v (first: %s, %s)", rest, err, first[0].RedactionID, last.RedactionID)
		}
	})
}

// Another process's opt-out, opt-in and room policy hold on this process's
// very next read: the store follows the change feed itself, so no reader
// has to be told to refresh what it cached.
func TestConsentFollowsAnotherProcess(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			archiver, web := storetest.Twins(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			now := time.Now().UnixMilli()
			evs := baseRoom(t)
			for i := range evs {
				evs[i].OriginTS = now - 10*24*3600*1000 + int64(i)
			}
			put(t, archiver, append(evs,
				mk(t, "$bob", "m.room.message", "@bob:example.org", now-3*24*3600*1000, nil, `{"msgtype":"m.text","body":"bob speaks"}`),
				mk(t, "$new", "m.room.message", "@alice:example.org", now-1000, nil, `{"msgtype":"m.text","body":"recent"}`))...)
			shown := func(step string) (bob store.Event) {
				t.Helper()
				e, err := web.EventByID(ctx, "$bob")
				if err != nil {
					t.Fatalf("%s: %v", step, err)
				}
				return e
			}
			if e := shown("before"); e.OptedOut || e.Expired {
				t.Fatalf("before: opted out %v, expired %v", e.OptedOut, e.Expired)
			}
			if _, err := archiver.OptOut(ctx, "@bob:example.org", store.OptOutByOperator); err != nil {
				t.Fatal(err)
			}
			if e := shown("after the opt-out"); !e.OptedOut || string(e.Content) != "{}" {
				t.Errorf("the other process's opt-out is not screened: opted out %v, content %s", e.OptedOut, e.Content)
			}
			if out, err := web.OptedOut(ctx, "@bob:example.org"); err != nil || !out {
				t.Errorf("OptedOut = %v, %v", out, err)
			}
			if _, err := archiver.OptIn(ctx, "@bob:example.org"); err != nil {
				t.Fatal(err)
			}
			if e := shown("after the opt-in"); e.OptedOut {
				t.Error("the other process's opt-in is not screened: still opted out")
			}
			put(t, archiver, mk(t, "$ret", "m.room.retention", "@alice:example.org", now-500, sk(""), `{"max_lifetime":86400000}`))
			if e := shown("after the policy"); !e.Expired {
				t.Error("the other process's room policy is not screened: an expired message is shown")
			}
			if c, err := web.ExpiryCutoffs(ctx); err != nil || c.Rooms[room] == 0 {
				t.Errorf("ExpiryCutoffs = %+v, %v; want the room's cutoff", c, err)
			}
		})
	}
}

// The purge reports each batch after it commits (the retention job logs
// them), and what it reports is what it deleted.
func TestRetentionPurgeReportsEachBatch(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, dialect, store.Options{PurgeBatch: 7,
				Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(time.Hour)}})
			evs := baseRoom(t)
			for i := range 20 {
				evs = append(evs, mk(t, fmt.Sprintf("$old%02d", i), "m.room.message", "@alice:example.org", 5000+int64(i), nil, `{"msgtype":"m.text","body":"old"}`))
			}
			put(t, st, evs...)
			if _, err := st.PurgeExpired(ctx, true, func(b retention.Batch) { t.Errorf("a dry run reported a batch: %+v", b) }); err != nil {
				t.Fatal(err)
			}
			var batches []retention.Batch
			per, err := st.PurgeExpired(ctx, false, func(b retention.Batch) {
				if _, err := st.EventByID(ctx, id.EventID(fmt.Sprintf("$old%02d", 7*len(batches)))); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("batch %d reported before its events were gone: %v", len(batches)+1, err)
				}
				batches = append(batches, b)
			})
			// 19 of the 20 (the latest event stays): 7, 7 and 5.
			if err != nil || per[room] != 19 {
				t.Fatalf("purge: %v %v", per, err)
			}
			want := []retention.Batch{{Room: room, Deleted: 7}, {Room: room, Deleted: 7}, {Room: room, Deleted: 5}}
			if fmt.Sprint(batches) != fmt.Sprint(want) {
				t.Errorf("batches = %+v, want %+v", batches, want)
			}
		})
	}
}

// EventTimes gives the time of an event whether it is shown, hidden (its
// sender opted out) or deleted (erased: from its tombstone), and nothing
// for an event the store never held: the index needs the time to delete a
// message's document.
func TestEventTimesOfHiddenAndDeletedEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$shown", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"shown"}`),
			mk(t, "$hidden", "m.room.message", "@carol:example.org", 3000, nil, `{"msgtype":"m.text","body":"hidden"}`),
			mk(t, "$erased", "m.room.message", "@bob:example.org", 4000, nil, `{"msgtype":"m.text","body":"erased"}`),
		)...)
		if _, err := st.OptOut(ctx, "@carol:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		if evs, _ := st.EventsByID(ctx, []id.EventID{"$erased"}); len(evs) != 0 {
			t.Fatalf("the erased event is still stored: %+v", evs)
		}
		got, err := st.EventTimes(ctx, []id.EventID{"$shown", "$hidden", "$erased", "$never"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[id.EventID]int64{"$shown": 2000, "$hidden": 3000, "$erased": 4000}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("EventTimes = %v, want %v", got, want)
		}
	})
}

// Erasing an admin strips what they said in state (their name, a topic)
// but not the state that governs the room: stripped as a redaction strips,
// the retention policy went (expired history shown again), the create
// event's room version (read as version 1), the tombstone's successor.
func TestEraseUserKeepsTheRoomsGoverningState(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			now := time.Now().UnixMilli()
			old := now - 3*24*3600*1000
			evs := baseRoom(t)
			for i := range evs {
				evs[i].OriginTS = old - 1000 + int64(i)
			}
			for i := range 5 {
				evs = append(evs, mk(t, fmt.Sprintf("$old%d", i), "m.room.message", "@bob:example.org", old+int64(i), nil, `{"msgtype":"m.text","body":"expired secret"}`))
			}
			evs = append(evs,
				mk(t, "$new", "m.room.message", "@bob:example.org", now-3600*1000, nil, `{"msgtype":"m.text","body":"recent"}`),
				mk(t, "$ret", "m.room.retention", "@alice:example.org", now-60000, sk(""), `{"max_lifetime":86400000}`),
				mk(t, "$topic", "m.room.topic", "@alice:example.org", now-50000, sk(""), `{"topic":"alice's own words"}`),
				mk(t, "$tomb", "m.room.tombstone", "@alice:example.org", now-40000, sk(""), `{"body":"alice's farewell words","replacement_room":"!new:example.org"}`),
				mk(t, "$jr", "m.room.join_rules", "@alice:example.org", now-30000, sk(""), `{"join_rule":"public","note":"call alice at 555-0100"}`))
			put(t, st, evs...)
			shown := func() int {
				got, err := st.DayEvents(ctx, room, old-24*3600*1000, now+1)
				if err != nil {
					t.Fatal(err)
				}
				return countType(got, "m.room.message")
			}
			if n := shown(); n != 1 {
				t.Fatalf("before the erasure: %d messages shown, want 1", n)
			}
			if _, err := st.EraseUser(ctx, "@alice:example.org", false); err != nil {
				t.Fatal(err)
			}
			if n := shown(); n != 1 {
				t.Errorf("after erasing the admin who set the retention policy: %d messages shown, want 1 (expired history came back)", n)
			}
			r, err := st.Room(ctx, room)
			if err != nil {
				t.Fatal(err)
			}
			if r.MaxLifetime != 24*time.Hour || r.Version != "10" || r.Successor != "!new:example.org" {
				t.Errorf("after erasing the admin: max lifetime %v, version %q, successor %q; want 24h, 10, !new:example.org", r.MaxLifetime, r.Version, r.Successor)
			}
			if e, err := st.EventByID(ctx, "$old0"); err != nil || !e.Expired {
				t.Errorf("an expired message after the erasure: %v, expired=%v", err, e.Expired)
			}
			// What they wrote in it goes: the tombstone's body, a key of
			// their own; what governs stays (above, and the join rule).
			for _, evID := range []id.EventID{"$tomb", "$jr"} {
				if e, err := st.EventByID(ctx, evID); err != nil || strings.Contains(string(e.Raw), "farewell") || strings.Contains(string(e.Raw), "555-0100") || e.Redacted {
					t.Errorf("%s after the erasure: %v, redacted=%v, %s", evID, err, e.Redacted, e.Raw)
				}
			}
			if r.JoinRule != "public" {
				t.Errorf("the join rule after the erasure: %q", r.JoinRule)
			}
			// What they said goes: the topic they set and their name.
			for _, evID := range []id.EventID{"$topic", "$join"} {
				if e, err := st.EventByID(ctx, evID); err != nil || !e.Redacted || strings.Contains(string(e.Content), "alice") || strings.Contains(string(e.Content), "Alice") {
					t.Errorf("%s after the erasure: %v, redacted=%v, %s", evID, err, e.Redacted, e.Content)
				}
			}
			if r.Topic != "" {
				t.Errorf("the room's topic after erasing its author: %q", r.Topic)
			}
		})
	}
}

// What the archive deletes leaves the quarantine too, which keeps a
// refused event's JSON as received: an erased user's events (and member
// events about them), a purged room's, expired messages. `archiver
// quarantine --json` printed them, and its re-import brought them back.
func TestQuarantineForgetsWhatIsDeleted(t *testing.T) {
	now := time.Now().UnixMilli()
	const day = 24 * 3600 * 1000
	for _, c := range []struct {
		name    string
		delete  func(ctx context.Context, st *store.Store) error
		gone    []string // words of the quarantined events that must go
		stayed  []string // and of those that must stay
		expires bool
	}{
		{"erase-user", func(ctx context.Context, st *store.Store) error {
			_, err := st.EraseUser(ctx, "@bob:example.org", false)
			return err
		}, []string{"bob's words", "Bobby"}, []string{"carol's words"}, false},
		{"purge-room", func(ctx context.Context, st *store.Store) error {
			_, err := st.PurgeRoom(ctx, room, false)
			return err
		}, []string{"bob's words", "Bobby", "carol's words"}, nil, false},
		{"retention", func(ctx context.Context, st *store.Store) error {
			_, err := st.PurgeExpired(ctx, false, nil)
			return err
		}, []string{"bob's words"}, []string{"Bobby", "carol's words"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range storetest.Dialects {
				t.Run(d, func(t *testing.T) {
					ctx := context.Background()
					st, _ := storetest.RefusingWith(t, d, store.Options{Retention: retention.Policy{Enabled: true}}, "$pbob", "$pname", "$pcarol")
					evs := baseRoom(t)
					for i := range evs {
						evs[i].OriginTS = now - 30*day + int64(i)
					}
					evs = append(evs,
						mk(t, "$ret", "m.room.retention", "@alice:example.org", now-30*day+100, sk(""), `{"max_lifetime":86400000}`),
						mk(t, "$m1", "m.room.message", "@bob:example.org", now-20*day, nil, `{"msgtype":"m.text","body":"stored"}`),
						mk(t, "$pbob", "m.room.message", "@bob:example.org", now-20*day+1, nil, `{"msgtype":"m.text","body":"bob's words"}`),
						mk(t, "$pname", "m.room.member", "@alice:example.org", now-20*day+2, sk("@bob:example.org"), `{"membership":"invite","displayname":"Bobby"}`),
						mk(t, "$pcarol", "m.room.message", "@carol:example.org", now-1000, nil, `{"msgtype":"m.text","body":"carol's words"}`),
						mk(t, "$last", "m.room.message", "@carol:example.org", now-900, nil, `{"msgtype":"m.text","body":"the latest"}`))
					if !c.expires {
						evs = slices.DeleteFunc(evs, func(e store.Event) bool { return e.ID == "$ret" })
					}
					put(t, st, evs...)
					if q := quarantined(t, st); len(q) != 3 {
						t.Fatalf("quarantine = %d events, want 3", len(q))
					}
					if err := c.delete(ctx, st); err != nil {
						t.Fatal(err)
					}
					var raws []string
					for _, q := range quarantined(t, st) {
						raws = append(raws, string(q.Raw))
					}
					all := strings.Join(raws, "\n")
					for _, w := range c.gone {
						if strings.Contains(all, w) {
							t.Errorf("the quarantine still holds %q:\n%s", w, all)
						}
					}
					for _, w := range c.stayed {
						if !strings.Contains(all, w) {
							t.Errorf("the quarantine lost %q:\n%s", w, all)
						}
					}
				})
			}
		})
	}
}

// An erased user's message that reaches the archive after the erasure (a
// late backfill, an export imported afterwards: never stored, so without
// a tombstone) is not stored, nor its media fetched; it was stored whole,
// its words kept and its file downloaded again. Their redaction is still
// applied (a moderator's), and their state still places the room's
// history, stripped.
func TestErasedUsersLaterMessagesAreNotStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$m1", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"bob speaks"}`),
			mk(t, "$spam", "m.room.message", "@eve:example.org", 2100, nil, `{"msgtype":"m.text","body":"spam"}`))...)
		if _, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		res := put(t, st, mediaMsg(t, "$late", "@bob:example.org", 1500, "m.image", "mxc://example.org/bobsface", ""),
			mk(t, "$late2", "m.room.message", "@bob:example.org", 1501, nil, `{"msgtype":"m.text","body":"bob's old secret"}`),
			mk(t, "$late3", "m.room.member", "@bob:example.org", 1502, sk("@bob:example.org"), `{"membership":"leave"}`),
			mk(t, "$late4", "m.room.redaction", "@bob:example.org", 2200, nil, `{"redacts":"$spam"}`))
		if res.Stored != 2 || res.Withdrawn != 2 {
			t.Errorf("the erased user's late events: %+v, want 2 stored (their leave, their redaction), 2 withdrawn", res)
		}
		for _, evID := range []id.EventID{"$late", "$late2"} {
			if _, err := st.EventByID(ctx, evID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of the erased user, arriving late: %v", evID, err)
			}
		}
		if due := dueURIs(t, st); len(due) != 0 {
			t.Errorf("an erased user's media is queued after the erasure: %v", due)
		}
		if e, err := st.EventByID(ctx, "$spam"); err != nil || !e.Redacted {
			t.Errorf("the message the erased moderator redacted: %v, redacted=%v", err, e.Redacted)
		}
		// Their state, and member events about them, arriving late are
		// stripped as the erasure stripped those it found: they were
		// stored whole, and the topic they set was the room's again.
		put(t, st,
			mk(t, "$ltopic", "m.room.topic", "@bob:example.org", 3000, sk(""), `{"topic":"bob's private words"}`),
			mk(t, "$lstatus", "org.example.status", "@bob:example.org", 3001, sk(""), `{"text":"bob's status words"}`),
			mk(t, "$linvite", "m.room.member", "@alice:example.org", 3002, sk("@bob:example.org"), `{"membership":"invite","displayname":"bob's name"}`),
			mk(t, "$ltomb", "m.room.tombstone", "@bob:example.org", 3003, sk(""), `{"body":"bob's goodbye","replacement_room":"!next:example.org"}`))
		if r, err := st.Room(ctx, room); err != nil || strings.Contains(r.Topic, "bob") || r.Successor != "!next:example.org" {
			t.Errorf("the room after the erased user's late topic and tombstone: topic %q, successor %q, %v", r.Topic, r.Successor, err)
		}
		for _, evID := range []id.EventID{"$ltopic", "$lstatus", "$linvite", "$ltomb"} {
			if e, err := st.EventByID(ctx, evID); err != nil || strings.Contains(string(e.Raw), "bob's") {
				t.Errorf("%s of the erased user, arriving late: %v, %s", evID, err, e.Raw)
			}
		}
	})
}

// An opted-out moderator's reason for a kick or ban of someone else is
// withdrawn, as their redactions' reasons are: it stayed on every state
// line. The member event's target and profile stay.
func TestOptedOutModeratorsKickReasonWithdrawn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t),
			mk(t, "$cj", "m.room.member", "@carol:example.org", 1500, sk("@carol:example.org"), `{"membership":"join","displayname":"Carol"}`),
			mk(t, "$kick", "m.room.member", "@bob:example.org", 2000, sk("@carol:example.org"), `{"membership":"leave","reason":"bob's own words about carol"}`),
			mk(t, "$ban", "m.room.member", "@alice:example.org", 2001, sk("@dave:example.org"), `{"membership":"ban","reason":"alice's reason"}`),
			mk(t, "$kick2", "m.room.member", "@bob:example.org", 2002, sk("@erin:example.org"), `{"membership":"leave","reason":{"text":"bob's own words, not a string"}}`),
		)...)
		if _, err := st.OptOut(ctx, "@bob:example.org", store.OptOutByUser); err != nil {
			t.Fatal(err)
		}
		day, err := st.DayEvents(ctx, room, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range day {
			if (e.ID == "$kick" || e.ID == "$kick2") && (strings.Contains(string(e.Content), "own words") || strings.Contains(string(e.Raw), "own words")) {
				t.Errorf("an opted-out moderator's kick reason is still shown: %s", e.Content)
			}
			if e.ID == "$ban" && !strings.Contains(string(e.Content), "alice's reason") {
				t.Errorf("the reason of a moderator who did not opt out is withdrawn: %s", e.Content)
			}
		}
		if e, err := st.EventByID(ctx, "$kick"); err != nil || strings.Contains(string(e.Content), "own words") || !strings.Contains(string(e.Content), `"membership":"leave"`) {
			t.Errorf("the kick's permalink: %v, %s", err, e.Content)
		}
	})
}
