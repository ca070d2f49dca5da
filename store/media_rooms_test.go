package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// worldReadableRoom is room r created by creator, world-readable, with
// creator joined, at ts and the next few milliseconds.
func worldReadableRoom(t *testing.T, r id.RoomID, creator string, ts int64) []store.Event {
	p := string(r)
	return []store.Event{
		mkAt(t, r, "$create"+p, "m.room.create", creator, ts, sk(""), fmt.Sprintf(`{"room_version":"10","creator":%q}`, creator)),
		mkAt(t, r, "$hv"+p, "m.room.history_visibility", creator, ts+1, sk(""), `{"history_visibility":"world_readable"}`),
		mkAt(t, r, "$join"+p, "m.room.member", creator, ts+2, sk(creator), `{"membership":"join"}`),
	}
}

// TestMediaShownInOneRoomWhateverOtherRoomsReferToIt: Alice's image,
// shown in her room, stays served however many rooms of someone else's
// refer to it without being shown. MediaFor looked at no more than 200
// rooms that refer to a file, the first by room ID, a query or two each:
// Mallory posted Alice's mxc URI in 200 public rooms whose IDs sort
// before hers, then hid every one of those messages (opted out by direct
// message to the bot, made the rooms private, or let their retention
// expire them), and Alice's image answered 410 Gone, at some 400 queries
// a request. Now one query judges every reference, and a request costs
// the same few queries whatever the rooms.
func TestMediaShownInOneRoomWhateverOtherRoomsReferToIt(t *testing.T) {
	const uri = "mxc://example.org/alicesphoto"
	const rooms = 201 // more than the 200 MediaFor used to look in
	now := time.Now().UnixMilli()
	const day = 24 * 3600 * 1000
	alice := id.RoomID("!zzz:example.org")
	for _, c := range []struct {
		name string
		// room is what Mallory puts in her room r besides her message
		// msg; hide, if set, what she does after all are stored.
		room func(t *testing.T, r id.RoomID, msg store.Event) []store.Event
		hide func(t *testing.T, st *store.Store)
	}{
		{"opted out", func(t *testing.T, r id.RoomID, msg store.Event) []store.Event {
			return append(worldReadableRoom(t, r, "@mallory:evil.org", now-20*day), msg)
		}, func(t *testing.T, st *store.Store) {
			if _, err := st.OptOut(context.Background(), "@mallory:evil.org", store.OptOutByUser); err != nil {
				t.Fatal(err)
			}
		}},
		{"rooms made private", func(t *testing.T, r id.RoomID, msg store.Event) []store.Event {
			return append(worldReadableRoom(t, r, "@mallory:evil.org", now-20*day), msg,
				mkAt(t, r, "$private"+string(r), "m.room.history_visibility", "@mallory:evil.org", now-day+1, sk(""), `{"history_visibility":"shared"}`))
		}, nil},
		{"expired", func(t *testing.T, r id.RoomID, msg store.Event) []store.Event {
			return append(worldReadableRoom(t, r, "@mallory:evil.org", now-20*day), msg,
				mkAt(t, r, "$retention"+string(r), "m.room.retention", "@mallory:evil.org", now-20*day+3, sk(""), `{"max_lifetime":86400000}`))
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.EachWith(t, store.Options{Retention: retention.Policy{Enabled: true}}, func(t *testing.T, st *store.Store) {
				put(t, st, append(worldReadableRoom(t, alice, "@alice:example.org", now-30*day),
					mkAt(t, alice, "$alicepic", "m.room.message", "@alice:example.org", now-10*day, nil, `{"msgtype":"m.image","body":"a.png","url":"`+uri+`"}`))...)
				if !fetched(t, st, uri, shaA) {
					t.Fatal("Alice's image was not kept")
				}
				for i := range rooms {
					r := id.RoomID(fmt.Sprintf("!a%03d:evil.org", i))
					msg := mkAt(t, r, fmt.Sprintf("$m%03d", i), "m.room.message", "@mallory:evil.org", now-5*day, nil, `{"msgtype":"m.image","body":"b.png","url":"`+uri+`"}`)
					put(t, st, c.room(t, r, msg)...)
				}
				if c.hide != nil {
					c.hide(t, st)
				}
				// Mallory's messages are hidden indeed, Alice's shown.
				for _, e := range []id.EventID{"$m000", "$m200"} {
					if shown := shownEvents(t, st, e); len(shown) != 0 {
						t.Fatalf("Mallory's %s is still shown: the attack did not hide it", e)
					}
				}
				if shown := shownEvents(t, st, "$alicepic"); len(shown) != 1 {
					t.Fatalf("Alice's message is not shown: %v", shown)
				}
				queries, err := st.CountQueries()
				if err != nil {
					t.Fatal(err)
				}
				if m := mediaState(t, st, uri); m.State != store.MediaReady || m.SHA256 != shaA {
					t.Errorf("Alice's image, still shown in %s, after %d rooms' references not shown: state %d, sha %q; want %d (ready), %s",
						alice, rooms, m.State, m.SHA256, store.MediaReady, shaA)
				}
				// The media row, the references (one query), the
				// consent feed's look (3 here; a few more when the
				// consent copy is reloaded): not a query or two a room.
				if n := queries(); n > 6 {
					t.Errorf("MediaFor issued %d queries for a file %d rooms refer to", n, rooms+1)
				}
				// And once Alice's message is gone, the file is.
				put(t, st, mkAt(t, alice, "$r", "m.room.redaction", "@alice:example.org", now, nil, `{"redacts":"$alicepic"}`))
				if m := mediaState(t, st, uri); m.State != store.MediaGone {
					t.Errorf("after Alice's message was redacted: state %d, want %d (gone)", m.State, store.MediaGone)
				}
			})
		})
	}
}

// shownEvents is what a reader is shown of the events ids: not
// expired, not withdrawn, in a room that is shown.
func shownEvents(t *testing.T, st *store.Store, ids ...id.EventID) []id.EventID {
	t.Helper()
	ctx := context.Background()
	evs, err := st.EventsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []id.EventID
	for _, e := range evs {
		r, err := st.Room(ctx, e.RoomID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Shown() && !e.Expired && !e.OptedOut {
			out = append(out, e.ID)
		}
	}
	return out
}

// TestShownRefFollowsRoomHiding: MediaFor judges in SQL whether a room
// is shown (shownRoomSQL), and must say what Room.Shown says, for every
// reason Room.Hiding knows, on both databases: a file whose only message
// is in the room is served exactly while the room is shown.
func TestShownRefFollowsRoomHiding(t *testing.T) {
	const bot = "@archive:example.org"
	botState := func(t *testing.T, membership string) store.Event {
		return mk(t, "$bot"+membership, "m.room.member", bot, 1500, sk(bot), `{"membership":"`+membership+`"}`)
	}
	for _, c := range []struct {
		name      string
		formerly  bool // the operator's ShowFormerlyPublic
		evs       func(t *testing.T) []store.Event
		hide      bool // the operator hides the room
		wantShown bool
	}{
		{name: "shown, no bot membership", wantShown: true},
		{name: "bot joined", evs: func(t *testing.T) []store.Event { return []store.Event{botState(t, "join")} }, wantShown: true},
		{name: "bot knocking", evs: func(t *testing.T) []store.Event { return []store.Event{botState(t, "knock")} }, wantShown: true},
		{name: "bot banned", evs: func(t *testing.T) []store.Event { return []store.Event{botState(t, "ban")} }},
		{name: "bot left", evs: func(t *testing.T) []store.Event { return []store.Event{botState(t, "leave")} }},
		{name: "bot invited back", evs: func(t *testing.T) []store.Event { return []store.Event{botState(t, "invite")} }},
		{name: "hidden by the operator", hide: true},
		{name: "history no longer world-readable", evs: func(t *testing.T) []store.Event {
			return []store.Event{mk(t, "$hv2", "m.room.history_visibility", "@alice:example.org", 3000, sk(""), `{"history_visibility":"joined"}`)}
		}},
		{name: "formerly public, shown by the operator", formerly: true, wantShown: true, evs: func(t *testing.T) []store.Event {
			return []store.Event{mk(t, "$hv2", "m.room.history_visibility", "@alice:example.org", 3000, sk(""), `{"history_visibility":"joined"}`)}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			storetest.EachWith(t, store.Options{Bot: bot, ShowFormerlyPublic: c.formerly}, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				put(t, st, append(baseRoom(t), mediaMsg(t, "$pic", "@bob:example.org", 2000, "m.image", "mxc://example.org/pic", ""))...)
				fetched(t, st, "mxc://example.org/pic", shaA)
				if c.evs != nil {
					put(t, st, c.evs(t)...)
				}
				if c.hide {
					if err := st.HideRoom(ctx, room, true, "test"); err != nil {
						t.Fatal(err)
					}
				}
				r, err := st.Room(ctx, room)
				if err != nil {
					t.Fatal(err)
				}
				if r.Shown() != c.wantShown {
					t.Fatalf("the room's Hiding is %s: the case is not what it says", r.Hiding())
				}
				want := store.MediaGone
				if c.wantShown {
					want = store.MediaReady
				}
				if m := mediaState(t, st, "mxc://example.org/pic"); m.State != want {
					t.Errorf("room %s: the file of its message has state %d, want %d", r.Hiding(), m.State, want)
				}
			})
		})
	}
}

// TestShownRefFollowsRetention: MediaFor applies each room's retention
// cutoff in SQL (refCutoffSQL) and must cut where screening cuts: a
// room's own max_lifetime clamped to the operator's allowed bounds, the
// operator's default for a room without one, and none while retention
// is off, on both databases.
func TestShownRefFollowsRetention(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Now()
	policy := retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(10 * day),
		AllowedLifetimeMin: retention.Lifetime(2 * day), AllowedLifetimeMax: retention.Lifetime(30 * day)}
	ages := []time.Duration{day, 3 * day, 8 * day, 12 * day, 25 * day, 40 * day}
	for _, c := range []struct {
		name string
		off  bool // retention off
		// noMin: the operator sets no allowed_lifetime_min.
		noMin bool
		own   string // the room's m.room.retention content, "" for none
		// keeps is how long the room's messages are shown.
		keeps time.Duration
	}{
		{name: "default", keeps: 10 * day},
		{name: "own, under the minimum", own: `{"max_lifetime":3600000}`, keeps: 2 * day},
		{name: "own", own: fmt.Sprintf(`{"max_lifetime":%d}`, (5 * day).Milliseconds()), keeps: 5 * day},
		{name: "own, over the maximum", own: fmt.Sprintf(`{"max_lifetime":%d}`, (100 * day).Milliseconds()), keeps: 30 * day},
		{name: "own, retention off", off: true, own: `{"max_lifetime":3600000}`, keeps: 1000 * day},
		// Longer than a time.Duration holds: held at
		// retention.MaxRoomLifetime, then clamped to the operator's
		// allowed_lifetime_max. It wrapped to a negative lifetime, which
		// no bound of the operator's clamped, and the room's whole
		// history expired at once.
		{name: "own, past a Duration", noMin: true, own: `{"max_lifetime":9223372036855}`, keeps: 30 * day},
		{name: "own, the most a room may ask", noMin: true, own: `{"max_lifetime":9007199254740991}`, keeps: 30 * day},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := policy
			p.Enabled = !c.off
			if c.noMin {
				p.AllowedLifetimeMin = 0
			}
			storetest.EachWith(t, store.Options{Retention: p}, func(t *testing.T, st *store.Store) {
				base := baseRoom(t)
				for i := range base {
					base[i].OriginTS = now.Add(-50*day).UnixMilli() + int64(i)
				}
				if c.own != "" {
					base = append(base, mk(t, "$retention", "m.room.retention", "@alice:example.org", now.Add(-50*day).UnixMilli()+100, sk(""), c.own))
				}
				for i, age := range ages {
					base = append(base, mediaMsg(t, fmt.Sprintf("$pic%d", i), "@bob:example.org", now.Add(-age).UnixMilli(), "m.image", fmt.Sprintf("mxc://example.org/pic%d", i), ""))
				}
				put(t, st, base...)
				for i, age := range ages {
					uri := fmt.Sprintf("mxc://example.org/pic%d", i)
					want := store.MediaPending
					if age >= c.keeps {
						want = store.MediaGone
					}
					shown := len(shownEvents(t, st, id.EventID(fmt.Sprintf("$pic%d", i)))) == 1
					if shown != (want == store.MediaPending) {
						t.Fatalf("a message %s old is shown %v by the store's reads: the case is not what it says", age, shown)
					}
					if m := mediaState(t, st, uri); m.State != want {
						t.Errorf("the file of a message %s old, in a room keeping %s: state %d, want %d", age, c.keeps, m.State, want)
					}
				}
			})
		})
	}
}

// TestShownRefProbesRoomsAndEvents: MediaFor's one query walks the
// file's references on media_refs_mxc and looks each one's room up by its
// key and its event by its ID, on both databases and in the generic plan
// archive-web's PostgreSQL sessions run (eachPlanStore): never a scan of
// rooms or events, whose cost would be the archive's, not the file's.
func TestShownRefProbesRoomsAndEvents(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		q := store.VisibleRefSQL
		if st.Dialect() == "postgres" {
			q = store.VisibleRefPostgres
		}
		plan := queryPlan(t, st, q, "example.org", "pic", int64(0), int64(1), time.Now().UnixMilli(), int64(0), int64(1<<62), int64(0))
		if !strings.Contains(plan, "media_refs_mxc") {
			t.Errorf("the references are not found on media_refs_mxc:\n%s", plan)
		}
		scan := regexp.MustCompile(`Seq Scan on (rooms|events)|SCAN (r|e)\b`)
		if m := scan.FindString(plan); m != "" {
			t.Errorf("the query scans a table (%s):\n%s", m, plan)
		}
		events, rooms := regexp.MustCompile(`events_idkey|events_eh`), regexp.MustCompile(`rooms_pkey|sqlite_autoindex_rooms_1`)
		if !events.MatchString(plan) || !rooms.MatchString(plan) {
			t.Errorf("each reference's event is not looked up by ID (%s), or its room by key (%s):\n%s", events, rooms, plan)
		}
	})
}

// TestShownRefGenericPlanProbesTheEvents: archive-web's PostgreSQL
// sessions plan MediaFor's query once for any arguments (plan_cache_mode
// force_generic_plan), and on a table of real size, unsteered, that plan
// must still find the file's references on media_refs_mxc and look each
// one's room and event up by key, not scan the events table for them: it hashed the references and scanned the table,
// which for a file posted lately is all of it (131 ms a request at
// 60,000 events). It replaces TestVisibleRefProbesTheEvents, written for
// the query of one room's references.
func TestShownRefGenericPlanProbesTheEvents(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "postgres")
	put(t, st, baseRoom(t)...)
	const n = 20000
	batch := make([]store.Event, 0, 2000)
	for i := range n {
		switch {
		case i%50 == 0:
			batch = append(batch, mediaMsg(t, fmt.Sprintf("$p%d", i), "@bob:example.org", int64(3000+i), "m.image", "mxc://example.org/popular", ""))
		case i%5 == 0:
			batch = append(batch, mediaMsg(t, fmt.Sprintf("$f%d", i), "@bob:example.org", int64(3000+i), "m.image", fmt.Sprintf("mxc://example.org/f%d", i), ""))
		default:
			batch = append(batch, mk(t, fmt.Sprintf("$m%d", i), "m.room.message", "@bob:example.org", int64(3000+i), nil, `{"msgtype":"m.text","body":"hello"}`))
		}
		if len(batch) == cap(batch) {
			put(t, st, batch...)
			batch = batch[:0]
		}
	}
	// Rooms enough that one is found by its key, not a scan.
	for i := range 1000 {
		r := id.RoomID(fmt.Sprintf("!other%d:example.org", i))
		batch = append(batch, mkAt(t, r, "$create"+string(r), "m.room.create", "@carol:example.org", 1000, sk(""), `{"room_version":"10"}`))
	}
	put(t, st, batch...)
	// The file posted last: the events table's end.
	put(t, st, mediaMsg(t, "$late", "@alice:example.org", 3000+n, "m.image", "mxc://example.org/late", ""))
	conn, err := st.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"ANALYZE", "SET plan_cache_mode = force_generic_plan", "PREPARE visible AS " + store.VisibleRefPostgres} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, media := range []string{"late", "popular"} {
		plan := analyzedPlan(t, conn, "BUFFERS", fmt.Sprintf("EXECUTE visible('example.org', '%s', 0, 1, %d, 0, %d, 0)", media, time.Now().UnixMilli(), int64(1<<62)))
		if regexp.MustCompile(`Seq Scan on (events|rooms|media_refs)\b`).MatchString(plan) || !strings.Contains(plan, "media_refs_mxc") || !strings.Contains(plan, "events_idkey") || !strings.Contains(plan, "rooms_pkey") {
			t.Errorf("the generic plan for a file %s does not find its references on media_refs_mxc and look their rooms and events up by key:\n%s", media, plan)
		}
	}
}
