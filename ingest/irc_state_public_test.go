package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// ircStateLog is a day of a channel with a line of every kind that
// becomes a state event: joins, a topic change, a nick change, a kick, a
// part and a quit.
const ircStateLog = `2021-08-17T19:00:24  *** mira <~mira@h.example> has joined #opendev
2021-08-17T19:00:25  <mira> hello
2021-08-17T19:00:30  *** tonio <~t@h.example> has joined #opendev
2021-08-17T19:00:33  *** mira changes topic to "weekly meeting at 19:00"
2021-08-17T19:00:40  *** tonio is now known as tonio_
2021-08-17T19:00:41  <tonio_> renamed
2021-08-17T19:00:42  *** spammer was kicked by mira (spam)
2021-08-17T19:00:50  *** mira <~mira@h.example> has left #opendev (bye)
2021-08-17T19:00:55  *** tonio_ <~t@h.example> has quit IRC (Quit: later)
`

// ircStateLines are the state lines of ircStateLog as the day shows
// them: type, state key's nick or "", and what they say.
var ircStateLines = []string{
	"m.room.member mira join",
	"m.room.member tonio join",
	"m.room.topic  weekly meeting at 19:00",
	"m.room.member tonio leave", // now known as tonio_
	"m.room.member spammer leave",
	"m.room.member mira leave",
	"m.room.member tonio_ leave",
}

func writeIRCLog(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "opendev.2021-08-17.log")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dayStateLines lists the state events the store's day read returns for
// 2021-08-17 (what the day page, text log and JSON day are built from),
// as ircStateLines words them; only the IRC lines'.
func dayStateLines(t *testing.T, st *store.Store, room id.RoomID) (lines []string, ids []id.EventID) {
	t.Helper()
	from := time.Date(2021, 8, 17, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs, err := st.DayEvents(context.Background(), room, from, from+86400000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.StateKey == nil || !strings.HasPrefix(string(e.ID), "$irc-") || !e.Public {
			continue
		}
		if e.Type != event.TypeMember && e.Type != event.TypeTopic {
			continue // the room's creation (--new-room)
		}
		nick, what := "", event.StringField(e.Content, "topic")
		if e.Type == event.TypeMember {
			nick = event.StringField(e.Content, "displayname")
			what = event.StringField(e.Content, "membership")
		}
		lines = append(lines, e.Type+" "+nick+" "+what)
		ids = append(ids, e.ID)
	}
	return lines, ids
}

// An IRC log's joins, parts, quits, kicks, nick and topic changes are
// archived public, as its messages are (importing a log vouches that the
// channel was public), and are what a day shows; they were stored with
// public false (the vouch came only with the messages' pass), so no day
// showed them and their permalinks said the room was not public. Importing
// the log again stores nothing and changes none of it.
func TestIRCStateEventsArePublic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		path := writeIRCLog(t, ircStateLog)
		opts := ircOptions(t)
		in := ingest.New(st, storetest.Logger(t), "")
		rep := importIRC(t, in, path, opts)
		// 9 lines, the room's 3 creation events.
		if rep.Events != 12 || rep.Stored != 12 || rep.NotPublic != 0 || len(rep.Rejected) > 0 {
			t.Fatalf("import: %s", rep)
		}
		got, ids := dayStateLines(t, st, opts.Room)
		if strings.Join(got, "\n") != strings.Join(ircStateLines, "\n") {
			t.Errorf("the day's state lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(ircStateLines, "\n"))
		}
		if got := ircDay(t, st, opts.Room); strings.Join(got, "\n") != "mira: hello\ntonio_: renamed" {
			t.Errorf("the day's messages: %q", got)
		}

		// Every event of a line is public: the state events by ID too
		// (permalinks, /api/v1/events/{id}).
		all, _ := ircLineIDs(t, path, opts)
		if len(all) != 9 {
			t.Fatalf("the log read as %d events, want 9", len(all))
		}
		stored, err := st.EventsByID(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != len(all) {
			t.Fatalf("%d of %d lines stored", len(stored), len(all))
		}
		for _, e := range stored {
			if !e.Public {
				t.Errorf("%s %s stored not public", e.Type, e.ID)
			}
		}
		r, err := st.Room(ctx, opts.Room)
		if err != nil || r.Topic != "weekly meeting at 19:00" || r.Name != "#opendev" {
			t.Fatalf("room name %q topic %q, %v", r.Name, r.Topic, err)
		}
		// The room made for the channel (--new-room) is no line of the
		// log: its creation, alias and name are kept, not shown.
		from := time.Date(2021, 8, 17, 0, 0, 0, 0, time.UTC).UnixMilli()
		day, err := st.DayEvents(ctx, opts.Room, from, from+86400000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range day {
			if e.Type == event.TypeCreate || e.Type == event.TypeCanonicalAlias || e.Type == event.TypeName {
				t.Errorf("the day shows the room's %s", e.Type)
			}
		}
		if c, err := st.EventByID(ctx, r.CreateEventID); err != nil || c.Public || r.CreateEventID == "" {
			t.Errorf("the room's creation %q: public %v, %v", r.CreateEventID, c.Public, err)
		}

		// Again: nothing stored, nothing changed.
		again := importIRC(t, in, path, opts)
		if again.Stored != 0 || again.Duplicates != 12 || again.NotPublic != 0 || len(again.Changed) > 0 {
			t.Errorf("import again: %s, changed %v", again, again.Changed)
		}
		// A new Ingester (another archiver import) too.
		again = importIRC(t, ingest.New(st, storetest.Logger(t), ""), path, opts)
		if again.Stored != 0 || again.Duplicates != 12 || len(again.Changed) > 0 {
			t.Errorf("import again, another process: %s, changed %v", again, again.Changed)
		}
		got2, ids2 := dayStateLines(t, st, opts.Room)
		if !slices.Equal(got2, got) || !slices.Equal(ids2, ids) {
			t.Errorf("after importing again the day's state lines are\n%s\n%v\nwere\n%s\n%v",
				strings.Join(got2, "\n"), ids2, strings.Join(got, "\n"), ids)
		}
	})
}

// ircLineIDs returns the event ID and time of each line of an IRC log
// that becomes an event, as the import reads it.
func ircLineIDs(t *testing.T, path string, opts *ingest.IRCOptions) (ids []id.EventID, ts []int64) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conv, err := irclog.NewConverter(irclog.Limnoria, path, opts.Options)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		e, err := conv.Line(i+1, []byte(l))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e != nil {
			ids, ts = append(ids, e.ID), append(ts, e.TS)
		}
	}
	return ids, ts
}

// IRC history imported into a Matrix room (--room) is public before the
// room's own history visibility says otherwise, and only there: an IRC
// line sent while the Matrix room's history was shared stays hidden, and
// the Matrix room's own state events, hidden when they were archived,
// stay hidden.
func TestIRCStateIntoMatrixRoomKeepsItsVisibility(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		y2024 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		matrix := writeLines(t, []string{
			ev("$create", "m.room.create", "@alice:example.org", y2024, sk(""), `{"room_version":"10","creator":"@alice:example.org"}`),
			ev("$ja", "m.room.member", "@alice:example.org", y2024+1, sk("@alice:example.org"), `{"membership":"join"}`),
			ev("$hv", "m.room.history_visibility", "@alice:example.org", y2024+3, sk(""), `{"history_visibility":"shared"}`),
			ev("$jb", "m.room.member", "@bob:example.org", y2024+4, sk("@bob:example.org"), `{"membership":"join"}`),
			ev("$topic", "m.room.topic", "@alice:example.org", y2024+5, sk(""), `{"topic":"private"}`),
			msg("$m", y2024+7, "not public"),
		})
		rep := importFile(t, in, matrix, ingest.ImportOptions{})
		if rep.Stored != 5 || rep.NotPublic != 1 {
			t.Fatalf("Matrix room: %s", rep)
		}
		// 2021, before the room's history visibility; and 2024-01-02,
		// while it was shared.
		path := writeIRCLog(t, ircStateLog+
			"2024-01-02T10:00:00  *** late <~l@h.example> has joined #opendev\n"+
			"2024-01-02T10:00:01  <late> too late\n"+
			"2024-01-02T10:00:02  *** late changes topic to \"not public\"\n")
		opts := &ingest.IRCOptions{Options: irclog.Options{Network: "OFTC", Channel: "#opendev", Server: "archive.test", Room: room}}
		rep = importIRC(t, in, path, opts)
		if rep.Stored != 11 || rep.NotPublic != 1 {
			t.Errorf("IRC import: %s", rep)
		}
		got, _ := dayStateLines(t, st, room)
		if strings.Join(got, "\n") != strings.Join(ircStateLines, "\n") {
			t.Errorf("the 2021 day's state lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(ircStateLines, "\n"))
		}
		var late []id.EventID
		ids, ts := ircLineIDs(t, path, opts)
		for i := range ids {
			if ts[i] > y2024 {
				late = append(late, ids[i])
			}
		}
		evs, err := st.EventsByID(ctx, append(late, "$create", "$ja", "$hv", "$jb", "$topic"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Public {
				t.Errorf("%s %s is public; it was sent while the room's history was not", e.Type, e.ID)
			}
		}
		if len(evs) != len(late)-1+5 { // the late message was left out
			t.Errorf("%d of the events stored, want %d", len(evs), len(late)-1+5)
		}
	})
}

// An Element export imported with --assume-world-readable keeps its
// state events (joins, the topic) public with its messages: they were
// judged before the vouch, hidden. A room whose file states its history
// visibility is judged by it, vouched or not: its state before a
// world_readable visibility stays hidden.
func TestVouchedExportStateIsPublic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		const path = "../testdata/import/element-export.json"
		rep := importFile(t, in, path, ingest.ImportOptions{AssumeWorldReadable: true})
		if rep.Stored == 0 || rep.NotPublic != 0 || len(rep.Rooms) != 1 {
			t.Fatalf("vouched: %s", rep)
		}
		var state []id.EventID
		if _, err := ingest.ReadFile(ctx, path, ingest.FormatAuto, func(ev *event.Event) error {
			if ev.IsState() {
				state = append(state, ev.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		evs, err := st.EventsByID(ctx, state)
		if err != nil || len(evs) != len(state) || len(state) == 0 {
			t.Fatalf("%d of %d state events stored, %v", len(evs), len(state), err)
		}
		for _, e := range evs {
			if !e.Public {
				t.Errorf("%s %s stored not public", e.Type, e.ID)
			}
		}
		day, err := st.DayEvents(ctx, rep.Rooms[0], evs[0].OriginTS-86400000, evs[0].OriginTS+86400000)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(day, func(e store.Event) bool { return e.Type == event.TypeMember }) {
			t.Errorf("the export's first day shows no member event")
		}
		if again := importFile(t, in, path, ingest.ImportOptions{AssumeWorldReadable: true}); again.Stored != 0 {
			t.Errorf("again: %s", again)
		}

		// A stated room, vouched: judged by what the file states.
		stated := writeLines(t, []string{
			ev("$c2", "m.room.create", "@alice:example.org", 1, sk(""), `{"room_version":"10"}`),
			ev("$j2", "m.room.member", "@alice:example.org", 2, sk("@alice:example.org"), `{"membership":"join"}`),
			ev("$h2", "m.room.history_visibility", "@alice:example.org", 3, sk(""), `{"history_visibility":"joined"}`),
			ev("$k2", "m.room.member", "@bob:example.org", 4, sk("@bob:example.org"), `{"membership":"join"}`),
			msg("$m2", 5, "hidden"),
			ev("$h3", "m.room.history_visibility", "@alice:example.org", 6, sk(""), `{"history_visibility":"world_readable"}`),
			ev("$k3", "m.room.member", "@carol:example.org", 7, sk("@carol:example.org"), `{"membership":"join"}`),
			msg("$m3", 8, "shown"),
		})
		rep = importFile(t, in, stated, ingest.ImportOptions{AssumeWorldReadable: true})
		if rep.Stored != 7 || rep.NotPublic != 1 {
			t.Errorf("stated room: %s", rep)
		}
		evs, err = st.EventsByID(ctx, []id.EventID{"$c2", "$j2", "$h2", "$k2", "$h3", "$k3", "$m3"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[id.EventID]bool{"$h3": true, "$k3": true, "$m3": true}
		for _, e := range evs {
			if e.Public != want[e.ID] {
				t.Errorf("stated room: %s %s public %v, want %v", e.Type, e.ID, e.Public, want[e.ID])
			}
		}
	})
}
