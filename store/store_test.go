package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const room = id.RoomID("!room:example.org")

// mk builds a stored event from client-format JSON fields.
func mk(t testing.TB, evID, typ, sender string, ts int64, stateKey *string, content string) store.Event {
	t.Helper()
	return mkAt(t, room, evID, typ, sender, ts, stateKey, content)
}

// mkAt is mk for an event of room r.
func mkAt(t testing.TB, r id.RoomID, evID, typ, sender string, ts int64, stateKey *string, content string) store.Event {
	t.Helper()
	m := map[string]any{
		"event_id": evID, "room_id": string(r), "type": typ, "sender": sender,
		"origin_server_ts": ts, "content": json.RawMessage(content),
	}
	if stateKey != nil {
		m["state_key"] = *stateKey
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("parse %s: %v", evID, err)
	}
	return store.Event{Event: *ev, Public: true, Rel: event.ParseRelation(ev.Content)}
}

func sk(s string) *string { return &s }

// baseRoom is a world-readable room with a moderator (PL 50) on another server.
func baseRoom(t testing.TB) []store.Event {
	return []store.Event{
		mk(t, "$create", "m.room.create", "@alice:example.org", 1000, sk(""), `{"room_version":"10","creator":"@alice:example.org"}`),
		mk(t, "$pl", "m.room.power_levels", "@alice:example.org", 1001, sk(""), `{"users":{"@alice:example.org":100,"@mod:other.org":50},"redact":50}`),
		mk(t, "$hv", "m.room.history_visibility", "@alice:example.org", 1002, sk(""), `{"history_visibility":"world_readable"}`),
		mk(t, "$name", "m.room.name", "@alice:example.org", 1003, sk(""), `{"name":"Test Room"}`),
		mk(t, "$alias", "m.room.canonical_alias", "@alice:example.org", 1004, sk(""), `{"alias":"#test:example.org","alt_aliases":["#old:example.org"]}`),
		mk(t, "$join", "m.room.member", "@alice:example.org", 1005, sk("@alice:example.org"), `{"membership":"join","displayname":"Alice"}`),
	}
}

func put(t testing.TB, st *store.Store, evs ...store.Event) store.PutResult {
	t.Helper()
	res, err := st.PutEvents(context.Background(), evs)
	if err != nil {
		t.Fatalf("PutEvents: %v", err)
	}
	return res
}

func TestPutEventsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := append(baseRoom(t), mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hello"}`))
		first := put(t, st, evs...)
		if first.Stored != len(evs) || first.Duplicates != 0 {
			t.Fatalf("first put = %+v", first)
		}
		changes, err := st.Changes(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		second := put(t, st, evs...)
		if second.Stored != 0 || second.Duplicates != len(evs) {
			t.Fatalf("second put = %+v", second)
		}
		n, err := st.CountEvents(ctx)
		if err != nil || n != int64(len(evs)) {
			t.Fatalf("CountEvents = %d, %v; want %d", n, err, len(evs))
		}
		again, _ := st.Changes(ctx, 0, 1000)
		if len(again) != len(changes) {
			t.Errorf("a duplicate put appended %d changes", len(again)-len(changes))
		}
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if r.MessageCount != 1 || r.LastTS != 2000 || r.FirstTS != 2000 {
			t.Errorf("room counters = %d %d %d", r.MessageCount, r.FirstTS, r.LastTS)
		}
	})
}

func TestRoomSummary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`))
		// As an import would: no directory to ask, and nobody else claims them.
		if c, err := st.RouteUnclaimedAliases(ctx, room); err != nil || len(c) != 0 {
			t.Fatalf("RouteUnclaimedAliases = %+v, %v", c, err)
		}
		r, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Room{ID: room, Version: "10", Creator: "@alice:example.org", CreateEventID: "$create", Name: "Test Room",
			CanonicalAlias: "#test:example.org", Alias: "#test:example.org", AltAliases: []string{"#old:example.org"}, HistoryVisibility: "world_readable",
			MessageCount: 1, FirstTS: 2000, LastTS: 2000}
		if fmt.Sprintf("%+v", r) != fmt.Sprintf("%+v", want) {
			t.Errorf("room =\n%+v\nwant\n%+v", r, want)
		}
		for _, alias := range []string{"#test:example.org", "#old:example.org"} {
			got, err := st.RoomIDByAlias(ctx, alias)
			if err != nil || got != room {
				t.Errorf("RoomIDByAlias(%s) = %s, %v", alias, got, err)
			}
		}
		if _, err := st.RoomIDByAlias(ctx, "#nope:example.org"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown alias: err = %v, want ErrNotFound", err)
		}
		// The canonical alias moves on; the old one keeps resolving here.
		put(t, st, mk(t, "$alias2", "m.room.canonical_alias", "@alice:example.org", 3000, sk(""), `{"alias":"#new:example.org"}`),
			mk(t, "$topic", "m.room.topic", "@alice:example.org", 3001, sk(""), `{"topic":"Now with topic"}`))
		r, _ = st.Room(ctx, room)
		if r.CanonicalAlias != "#new:example.org" || r.Topic != "Now with topic" || len(r.AltAliases) != 0 {
			t.Errorf("after change: %+v", r)
		}
		if got, err := st.RoomIDByAlias(ctx, "#test:example.org"); err != nil || got != room {
			t.Errorf("old alias = %s, %v", got, err)
		}
		rooms, err := st.Rooms(ctx)
		if err != nil || len(rooms) != 1 || rooms[0].ID != room {
			t.Errorf("Rooms = %+v, %v", rooms, err)
		}
		// A room with no messages is not in the directory.
		other := mk(t, "$c2", "m.room.create", "@bob:example.org", 1, sk(""), `{}`)
		other.RoomID = "!empty:example.org"
		put(t, st, other)
		if rooms, _ := st.Rooms(ctx); len(rooms) != 1 {
			t.Errorf("empty room listed: %+v", rooms)
		}
		if _, err := st.Room(ctx, "!missing:example.org"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing room err = %v", err)
		}
	})
}

func TestRedactions(t *testing.T) {
	msg := func(t *testing.T, id, sender string, ts int64, body string) store.Event {
		return mk(t, id, "m.room.message", sender, ts, nil, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body))
	}
	redaction := func(t *testing.T, id, sender string, ts int64, target string) store.Event {
		return mk(t, id, "m.room.redaction", sender, ts, nil, fmt.Sprintf(`{"redacts":%q,"reason":"spam"}`, target))
	}
	tests := []struct {
		name        string
		events      func(t *testing.T) []store.Event
		target      id.EventID
		wantApplied bool
		wantSecret  bool // whether "secret" must still be stored
	}{
		{name: "self redaction after target", target: "$m", wantApplied: true, events: func(t *testing.T) []store.Event {
			return []store.Event{msg(t, "$m", "@bob:example.org", 2000, "secret"), redaction(t, "$r", "@bob:example.org", 3000, "$m")}
		}},
		{name: "redaction before target", target: "$m", wantApplied: true, events: func(t *testing.T) []store.Event {
			return []store.Event{redaction(t, "$r", "@bob:example.org", 3000, "$m"), msg(t, "$m", "@bob:example.org", 2000, "secret")}
		}},
		{name: "moderator on another server", target: "$m", wantApplied: true, events: func(t *testing.T) []store.Event {
			return []store.Event{msg(t, "$m", "@bob:example.org", 2000, "secret"), redaction(t, "$r", "@mod:other.org", 3000, "$m")}
		}},
		{name: "powerless user on another server", target: "$m", wantApplied: false, wantSecret: true, events: func(t *testing.T) []store.Event {
			return []store.Event{msg(t, "$m", "@bob:example.org", 2000, "secret"), redaction(t, "$r", "@eve:evil.org", 3000, "$m")}
		}},
		{name: "never the create event", target: "$create", wantApplied: false, events: func(t *testing.T) []store.Event {
			return []store.Event{redaction(t, "$r", "@alice:example.org", 3000, "$create")}
		}},
		{name: "original erases its edits", target: "$m", wantApplied: true, events: func(t *testing.T) []store.Event {
			edit := mk(t, "$e", "m.room.message", "@bob:example.org", 2500, nil,
				`{"msgtype":"m.text","body":"* secret v2","m.new_content":{"msgtype":"m.text","body":"secret v2"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`)
			return []store.Event{msg(t, "$m", "@bob:example.org", 2000, "secret"), edit, redaction(t, "$r", "@bob:example.org", 3000, "$m")}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				ctx := context.Background()
				put(t, st, baseRoom(t)...)
				for _, ev := range tc.events(t) {
					put(t, st, ev) // one batch each: arrival order matters here
				}
				red, err := st.RedactionOf(ctx, tc.target)
				if tc.wantApplied {
					if err != nil {
						t.Fatalf("RedactionOf: %v", err)
					}
					if red.RedactionID != "$r" || red.Reason != "spam" || red.AppliedAt.IsZero() || red.TS.UnixMilli() != 3000 {
						t.Errorf("redaction = %+v", red)
					}
					ev, err := st.EventByID(ctx, tc.target)
					if err != nil {
						t.Fatal(err)
					}
					if !ev.Redacted {
						t.Errorf("target not marked redacted")
					}
					changes, _ := st.Changes(ctx, 0, 1000)
					if !hasChange(changes, store.ChangeRedacted, tc.target) {
						t.Errorf("no redacted change for %s in feed", tc.target)
					}
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Errorf("RedactionOf = %+v, %v; want not applied", red, err)
				}
				// Nothing anywhere in the stored events may still say "secret"
				// once its redaction is applied.
				evs, err := st.EventsByID(ctx, []id.EventID{"$m", "$e"})
				if err != nil {
					t.Fatal(err)
				}
				leaked := false
				for _, e := range evs {
					if strings.Contains(string(e.Content)+string(e.Raw), "secret") {
						leaked = true
					}
				}
				if leaked != tc.wantSecret {
					t.Errorf("secret still stored = %v, want %v", leaked, tc.wantSecret)
				}
			})
		})
	}
}

func hasChange(cs []store.Change, kind store.ChangeKind, ev id.EventID) bool {
	for _, c := range cs {
		if c.Kind == kind && c.EventID == ev {
			return true
		}
	}
	return false
}

func TestAlreadyRedactedFromSource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		raw := `{"event_id":"$gone","room_id":"!room:example.org","type":"m.room.message","sender":"@bob:example.org","origin_server_ts":2000,"content":{},
			"unsigned":{"redacted_because":{"event_id":"$why","room_id":"!room:example.org","type":"m.room.redaction","sender":"@alice:example.org","origin_server_ts":2100,"redacts":"$gone","content":{"reason":"off-topic"}}}}`
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		put(t, st, store.Event{Event: *ev, Public: true})
		red, err := st.RedactionOf(ctx, "$gone")
		if err != nil || red.Sender != "@alice:example.org" || red.Reason != "off-topic" {
			t.Fatalf("RedactionOf = %+v, %v", red, err)
		}
		if got, _ := st.EventByID(ctx, "$gone"); !got.Redacted {
			t.Error("event not marked redacted")
		}
	})
}

func TestDayQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const day = int64(86_400_000)
		put(t, st, baseRoom(t)...)
		put(t, st,
			mk(t, "$d1", "m.room.message", "@alice:example.org", 10*day+5, nil, `{"msgtype":"m.text","body":"day 10"}`),
			mk(t, "$d1b", "m.room.message", "@alice:example.org", 10*day+9, nil, `{"msgtype":"m.text","body":"day 10 again"}`),
			mk(t, "$edit", "m.room.message", "@alice:example.org", 10*day+10, nil, `{"msgtype":"m.text","body":"* x","m.new_content":{"msgtype":"m.text","body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$d1"}}`),
			mk(t, "$react", "m.reaction", "@alice:example.org", 10*day+11, nil, `{"m.relates_to":{"rel_type":"m.annotation","event_id":"$d1","key":"👍"}}`),
			mk(t, "$d3", "m.room.message", "@alice:example.org", 13*day+1, nil, `{"msgtype":"m.text","body":"day 13"}`),
			mk(t, "$bob", "m.room.member", "@bob:other.org", 13*day+2, sk("@bob:other.org"), `{"membership":"join"}`),
			mk(t, "$bob2", "m.room.member", "@bob:other.org", 13*day+3, sk("@bob:other.org"), `{"membership":"join","displayname":"Bob"}`),
		)
		evs, err := st.DayEvents(ctx, room, 10*day, 11*day)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range evs {
			ids = append(ids, string(e.ID))
		}
		if strings.Join(ids, " ") != "$d1 $d1b" {
			t.Errorf("day 10 = %v (edits and reactions belong to their targets)", ids)
		}
		prev, next, err := st.AdjacentMessages(ctx, room, 11*day, 12*day)
		if err != nil || prev != 10*day+9 || next != 13*day+1 {
			t.Errorf("AdjacentMessages = %d %d %v", prev, next, err)
		}
		rel, err := st.Related(ctx, []id.EventID{"$d1"})
		if err != nil || len(rel) != 2 {
			t.Errorf("Related = %d events, %v", len(rel), err)
		}
		members, err := st.JoinedMembers(ctx, room)
		if err != nil || fmt.Sprint(members) != "[@alice:example.org @bob:other.org]" {
			t.Errorf("JoinedMembers = %v, %v", members, err)
		}
		bob2, _ := st.EventByID(ctx, "$bob2")
		prevState, err := st.PreviousState(ctx, bob2)
		if err != nil || event.StringField(prevState, "displayname") != "" || event.StringField(prevState, "membership") != "join" {
			t.Errorf("PreviousState = %s, %v", prevState, err)
		}
		pl, err := st.CurrentState(ctx, room, "m.room.power_levels", "")
		if err != nil || !strings.Contains(string(pl), "@mod:other.org") {
			t.Errorf("CurrentState = %s, %v", pl, err)
		}
	})
}

func TestChangeFeedOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$a", "m.room.message", "@alice:example.org", 5000, nil, `{"msgtype":"m.text","body":"a"}`))
		cs, err := st.Changes(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(cs); i++ {
			if cs[i].Pos <= cs[i-1].Pos {
				t.Fatalf("positions not increasing: %d then %d", cs[i-1].Pos, cs[i].Pos)
			}
		}
		tail, err := st.Changes(ctx, cs[len(cs)-2].Pos, 10)
		if err != nil || len(tail) != 1 || tail[0].EventID != "$a" || tail[0].Kind != store.ChangeStored {
			t.Errorf("tail = %+v, %v", tail, err)
		}
	})
}

func TestSchemaTooNew(t *testing.T) {
	for _, d := range storetest.Dialects {
		t.Run(d, func(t *testing.T) {
			cfg := store.Config{Type: d}
			dir := t.TempDir()
			if d == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
			} else {
				cfg.URI = filepath.Join(dir, "x.db")
			}
			ctx := context.Background()
			st, err := store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			// Reopening an up-to-date database is fine.
			st, err = store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			st.Close()
			bumpSchema(t, d, cfg.URI)
			_, err = store.Open(ctx, cfg, dir, storetest.Logger(t), store.Options{})
			if !errors.Is(err, store.ErrSchemaTooNew) {
				t.Fatalf("open newer schema: err = %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

// bumpSchema pretends a newer mxarchive migrated the database.
func bumpSchema(t *testing.T, dialect, uri string) {
	driver := "sqlite"
	if dialect == "postgres" {
		driver = "pgx"
	}
	db, err := sql.Open(driver, uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := store.Open(ctx, store.Config{Type: "mysql"}, t.TempDir(), storetest.Logger(t), store.Options{})
	if !errors.Is(err, store.ErrUnknownDBType) {
		t.Errorf("mysql: %v", err)
	}
	// A database that is down is a clear error naming it, without the
	// password, for the archiver and for archive-web (ReadMostly) alike;
	// so is a URI that cannot be parsed.
	for _, readMostly := range []bool{false, true} {
		_, err = store.Open(ctx, store.Config{Type: "postgres", URI: "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2"}, t.TempDir(), storetest.Logger(t), store.Options{ReadMostly: readMostly})
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("down database (ReadMostly %v): %v", readMostly, err)
		}
		_, err = store.Open(ctx, store.Config{Type: "postgres", URI: "postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=soon"}, t.TempDir(), storetest.Logger(t), store.Options{ReadMostly: readMostly})
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "connect_timeout") {
			t.Errorf("unparseable URI (ReadMostly %v): %v", readMostly, err)
		}
	}
}

// Rooms v1 and v2 accept a redaction whose event ID has the target's domain
// (auth rule 11); later versions ignore event-ID domains and look at the
// senders' servers and power.
func TestRedactionRulesByRoomVersion(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{{"1", true}, {"2", true}, {"3", false}, {"10", false}, {"11", false}} {
		t.Run("v"+tc.version, func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			ctx := context.Background()
			put(t, st,
				mk(t, "$create:example.org", "m.room.create", "@alice:example.org", 1000, sk(""), fmt.Sprintf(`{"room_version":%q,"creator":"@alice:example.org"}`, tc.version)),
				mk(t, "$pl:example.org", "m.room.power_levels", "@alice:example.org", 1001, sk(""), `{"users":{"@alice:example.org":100}}`),
				mk(t, "$target:example.org", "m.room.message", "@bob:other.org", 2000, nil, `{"msgtype":"m.text","body":"x"}`),
			)
			// A powerless user of a third server, in a redaction event whose
			// ID carries the target's domain.
			put(t, st, mk(t, "$red:example.org", "m.room.redaction", "@eve:third.org", 3000, nil, `{"redacts":"$target:example.org"}`))
			_, err := st.RedactionOf(ctx, "$target:example.org")
			if applied := err == nil; applied != tc.want {
				t.Errorf("applied = %v, want %v (err %v)", applied, tc.want, err)
			}
		})
	}
}

// A redacted state event counts as that state with only its protected keys:
// a redacted topic means no topic.
func TestRedactedStateUpdatesTheRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t), mk(t, "$topic", "m.room.topic", "@alice:example.org", 2000, sk(""), `{"topic":"rude words"}`))...)
		if r, _ := st.Room(ctx, room); r.Topic != "rude words" {
			t.Fatalf("topic = %q", r.Topic)
		}
		put(t, st, mk(t, "$r", "m.room.redaction", "@alice:example.org", 3000, nil, `{"redacts":"$topic"}`))
		if r, _ := st.Room(ctx, room); r.Topic != "" {
			t.Errorf("topic after its redaction = %q, want none", r.Topic)
		}
	})
}

// On PostgreSQL a reader hears of a commit at once (LISTEN/NOTIFY), without
// waiting for its next poll; on SQLite there is nothing to listen to.
func TestChangeNotifications(t *testing.T) {
	if storetest.Open(t, "sqlite").Changed(context.Background()) != nil {
		t.Error("SQLite returned a notification channel")
	}
	st := storetest.Open(t, "postgres")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := st.Changed(ctx)
	put(t, st, baseRoom(t)...)
	// LISTEN starts asynchronously, so commit until one is heard.
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-changed:
			return
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no notification within 5 s of commits")
		}
		put(t, st, mk(t, fmt.Sprintf("$n%d", i), "m.room.message", "@alice:example.org", int64(5000+i), nil, `{"msgtype":"m.text","body":"x"}`))
	}
}

// Relations only count within their room: an event elsewhere that claims to
// edit, react to or reply in a thread of this room's message is not related.
func TestRelatedStaysInTheRoom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t), mk(t, "$root", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"root"}`),
			mk(t, "$here", "m.room.message", "@bob:example.org", 3000, nil, `{"msgtype":"m.text","body":"in thread","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`))...)
		elsewhere := mk(t, "$there", "m.room.message", "@eve:example.org", 4000, nil, `{"msgtype":"m.text","body":"from another room","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`)
		elsewhere.RoomID = "!other:example.org"
		put(t, st, elsewhere)
		rel, err := st.Related(ctx, []id.EventID{"$root"})
		if err != nil || len(rel) != 1 || rel[0].ID != "$here" {
			t.Errorf("Related = %v, %v; want only $here", rel, err)
		}
	})
}

// An edit that arrives after its original was redacted is erased too.
func TestLateEditOfARedactedMessageIsErased(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, append(baseRoom(t), mk(t, "$m", "m.room.message", "@bob:example.org", 2000, nil, `{"msgtype":"m.text","body":"first"}`))...)
		put(t, st, mk(t, "$r", "m.room.redaction", "@bob:example.org", 3000, nil, `{"redacts":"$m"}`))
		put(t, st, mk(t, "$late", "m.room.message", "@bob:example.org", 2500, nil,
			`{"msgtype":"m.text","body":"* secret second","m.new_content":{"msgtype":"m.text","body":"secret second"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m"}}`))
		e, err := st.EventByID(ctx, "$late")
		if err != nil || !e.Redacted || strings.Contains(string(e.Raw), "secret") {
			t.Errorf("late edit: redacted=%v raw=%s err=%v", e.Redacted, e.Raw, err)
		}
	})
}

// A data directory whose path holds URI punctuation ('#', '?', '%') opens
// the database file at exactly that path: in a file: URI they would end
// the path (two directories named "a#1" and "a#2" shared one file "a").
func TestSQLitePathWithURIPunctuation(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"a#1", "a#2", "b?x=1", "c%41"} {
		dir := filepath.Join(root, name)
		path := filepath.Join(dir, "archive.db")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(context.Background(), store.Config{Type: "sqlite", URI: path}, dir, storetest.Logger(t), store.Options{})
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		st.Close()
		if _, err := os.Stat(path); err != nil {
			t.Errorf("database for %s not at its path: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "a")); err == nil {
		t.Errorf("a truncated path %q was created", filepath.Join(root, "a"))
	}
}

// RoomsByID reads several rooms at once as Room reads each: hidden ones
// too, unknown ones left out.
func TestRoomsByID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		put(t, st, mk(t, "$m1", "m.room.message", "@alice:example.org", 2000, nil, `{"msgtype":"m.text","body":"hi"}`))
		if err := st.HideRoom(ctx, room, true, "spam"); err != nil {
			t.Fatal(err)
		}
		one, err := st.Room(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.RoomsByID(ctx, []id.RoomID{"!unknown:example.org", room, room})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || fmt.Sprintf("%+v", got[room]) != fmt.Sprintf("%+v", one) || !got[room].Hidden {
			t.Errorf("RoomsByID = %+v\nwant only %+v", got, one)
		}
	})
}

// TestWriterListsHoldAnyID: the writer's lists of a batch's IDs (which
// new events a redaction waits for, which were deleted on purpose) find
// IDs holding what a JSON array or an SQL list must quote: a quote, a
// backslash, HTML characters, a comma, non-ASCII.
func TestWriterListsHoldAnyID(t *testing.T) {
	ids := []string{`$q"uote`, `$back\slash`, `$<b>&amp;`, `$a,b`, `$é🎉`, `$plain`}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		// Redactions first, then their targets, all in one batch: each
		// target must find the redaction waiting for it.
		var reds, msgs []store.Event
		for i, e := range ids {
			reds = append(reds, mk(t, fmt.Sprintf("$r%d", i), "m.room.redaction", "@alice:example.org", int64(3000+i), nil, fmt.Sprintf(`{"redacts":%q}`, e)))
			msgs = append(msgs, mk(t, e, "m.room.message", "@bob:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"secret"}`))
		}
		put(t, st, reds...)
		put(t, st, msgs...)
		for _, e := range ids {
			ev, err := st.EventByID(ctx, id.EventID(e))
			if err != nil || !ev.Redacted {
				t.Errorf("%s: redacted %v, %v", e, ev.Redacted, err)
			}
		}
		// Deleted on purpose (the sender erased): a redelivery stores none.
		if _, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		if res := put(t, st, msgs...); res.Stored != 0 || res.Withdrawn != len(ids) {
			t.Errorf("redelivered after erasure: %+v", res)
		}
	})
}

// TestReadListsHoldAnyID: the reads by a list of event IDs (EventsByID,
// Related), one JSON-array parameter on SQLite, find IDs holding a quote,
// a backslash, HTML characters, a comma and non-ASCII, and nothing for an
// ID that only looks like a part of one; more IDs than one query takes
// are read in several.
func TestReadListsHoldAnyID(t *testing.T) {
	ids := []string{`$q"uote`, `$back\slash`, `$<b>&amp;`, `$a,b`, `$é🎉`, `$plain`}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		var evs []store.Event
		for i, e := range ids {
			evs = append(evs, mk(t, e, "m.room.message", "@bob:example.org", int64(2000+i), nil, `{"msgtype":"m.text","body":"hello"}`),
				mk(t, fmt.Sprintf("$react%d", i), "m.reaction", "@alice:example.org", int64(3000+i), nil,
					fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"👍"}}`, e)))
		}
		put(t, st, evs...)
		ask := []id.EventID{`$a`, `$q`, `"`} // none of them stored
		for _, e := range ids {
			ask = append(ask, id.EventID(e))
		}
		for range store.MaxIDsPerQuery {
			ask = append(ask, "$absent") // past one query's list
		}
		got, err := st.EventsByID(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		found := map[id.EventID]bool{}
		for _, e := range got {
			found[e.ID] = true
		}
		if len(got) != len(ids) {
			t.Errorf("EventsByID found %d events, want %d: %v", len(got), len(ids), found)
		}
		for _, e := range ids {
			if !found[id.EventID(e)] {
				t.Errorf("EventsByID did not find %s", e)
			}
		}
		rel, err := st.Related(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		targets := map[id.EventID]bool{}
		for _, r := range rel {
			targets[r.Rel.EventID] = true
		}
		for _, e := range ids {
			if !targets[id.EventID(e)] {
				t.Errorf("Related did not find the reaction to %s", e)
			}
		}
		if len(rel) != len(ids) {
			t.Errorf("Related found %d relations, want %d", len(rel), len(ids))
		}
		// EventTimes reads its list twice (rows and tombstones), one
		// parameter on SQLite; RedactionsOf reads redactions by target.
		times, err := st.EventTimes(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range ids {
			if got, want := times[id.EventID(e)], int64(2000+i); got != want {
				t.Errorf("EventTimes of %s: %d, want %d", e, got, want)
			}
		}
		if len(times) != len(ids) {
			t.Errorf("EventTimes found %d events, want %d", len(times), len(ids))
		}
		for i, e := range ids[:3] {
			put(t, st, mk(t, fmt.Sprintf("$redact%d", i), "m.room.redaction", "@bob:example.org", int64(4000+i), nil,
				fmt.Sprintf(`{"redacts":%q}`, e)))
		}
		reds, err := st.RedactionsOf(ctx, ask)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range ids {
			r, ok := reds[id.EventID(e)]
			if want := i < 3; ok != want || ok && r.RedactionID != id.EventID(fmt.Sprintf("$redact%d", i)) {
				t.Errorf("RedactionsOf %s: %+v (%v), want one: %v", e, r, ok, want)
			}
		}
	})
}
