package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func ptr(v int64) *int64 { return &v }

func TestRetentionPolicyResolution(t *testing.T) {
	day := 24 * time.Hour
	lt := func(d time.Duration) store.Lifetime { return store.Lifetime(d) }
	for _, c := range []struct {
		name string
		cfg  store.Retention
		room *int64
		want time.Duration // 0: nothing expires
	}{
		{"disabled", store.Retention{Enabled: false, DefaultMaxLifetime: lt(day)}, ptr(1000), 0},
		{"no policy anywhere", store.Retention{Enabled: true}, nil, 0},
		{"room policy", store.Retention{Enabled: true}, ptr(int64(7 * day / time.Millisecond)), 7 * day},
		{"default only", store.Retention{Enabled: true, DefaultMaxLifetime: lt(30 * day)}, nil, 30 * day},
		{"room beats default", store.Retention{Enabled: true, DefaultMaxLifetime: lt(30 * day)}, ptr(int64(day / time.Millisecond)), day},
		{"clamped up to the minimum", store.Retention{Enabled: true, AllowedLifetimeMin: lt(day)}, ptr(60000), day},
		{"clamped down to the maximum", store.Retention{Enabled: true, AllowedLifetimeMax: lt(365 * day)}, ptr(int64(1000 * day / time.Millisecond)), 365 * day},
		{"default clamped too", store.Retention{Enabled: true, DefaultMaxLifetime: lt(day), AllowedLifetimeMin: lt(2 * day)}, nil, 2 * day},
		{"zero lifetime", store.Retention{Enabled: true}, ptr(0), 0},
	} {
		got, ok := c.cfg.MaxLifetime(c.room)
		if (c.want == 0 && ok && got != 0) || (c.want != 0 && (!ok || got != c.want)) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, ok, c.want)
		}
	}
	for in, want := range map[string]*int64{
		`{"max_lifetime":86400000}`: ptr(86400000), `{"min_lifetime":5}`: nil, `{"max_lifetime":-1}`: nil,
		`{"max_lifetime":"1d"}`: nil, `{"max_lifetime":1.5}`: nil, `{"max_lifetime":9007199254740992}`: nil, `{}`: nil,
	} {
		got := store.RoomMaxLifetime(json.RawMessage(in))
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("RoomMaxLifetime(%s) = %v", in, got)
		}
	}
	for in, want := range map[string]time.Duration{"30d": 30 * day, "1y": 365 * day, "12h": 12 * time.Hour, "86400000": day, "0": 0, "2w": 14 * day} {
		var l store.Lifetime
		if err := l.UnmarshalText([]byte(in)); err != nil || time.Duration(l) != want {
			t.Errorf("Lifetime(%q) = %v, %v", in, time.Duration(l), err)
		}
	}
	for _, in := range []string{"1x", "-1d", "d", "1.5d"} {
		var l store.Lifetime
		if err := l.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("Lifetime(%q) accepted", in)
		}
	}
}

// A room with a one-day max_lifetime: older messages are hidden at once,
// the purge deletes them in batches with tombstones, and nothing brings
// them back.
func TestRetentionExpiresAndPurges(t *testing.T) {
	defer store.SetPurgeBatch(7)()
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenPolicy(t, dialect, store.Policy{Retention: store.Retention{Enabled: true}})
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
			per, err := st.PurgeExpired(ctx, true)
			if err != nil || per[room] != 20 {
				t.Fatalf("dry run: %v %v", per, err)
			}
			if _, err := st.EventByID(ctx, "$old00"); err != nil {
				t.Fatal("the dry run deleted something")
			}
			before, _ := st.Changes(ctx, 0, 100000)
			per, err = st.PurgeExpired(ctx, false)
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
			if per, err := st.PurgeExpired(ctx, false); err != nil || len(per) != 0 {
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
	st := storetest.OpenPolicy(t, "sqlite", store.Policy{Retention: store.Retention{Enabled: true, DefaultMaxLifetime: store.Lifetime(time.Hour)}})
	evs := baseRoom(t)
	put(t, st, append(evs,
		mk(t, "$a", "m.room.message", "@alice:example.org", 5000, nil, `{"msgtype":"m.text","body":"a"}`),
		mk(t, "$b", "m.room.message", "@alice:example.org", 6000, nil, `{"msgtype":"m.text","body":"b"}`))...)
	if per, err := st.PurgeExpired(ctx, false); err != nil || per[room] != 1 {
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
	if per, err := st.PurgeExpired(ctx, false); err != nil || len(per) != 0 || fed() != 1 {
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
