package ingest_test

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
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

// A ZIP that is not an Element export, or any binary file, is refused as a
// whole with a message saying what it is, rather than read as NDJSON line
// by line ("467 lines rejected"). (An Element export ZIP is imported:
// zipimport_test.go.)
func TestImportRefusesZipAndBinary(t *testing.T) {
	dir := t.TempDir()
	zipPath := filepath.Join(dir, "export.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("photos/cat.txt")
	w.Write([]byte("not an export"))
	zw.Close()
	f.Close()
	binPath := filepath.Join(dir, "image.png")
	os.WriteFile(binPath, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"), 0o600)
	proseFile := filepath.Join(dir, "notes.txt")
	os.WriteFile(proseFile, []byte("Dear diary,\ntoday I wrote a parser.\n"), 0o600)

	st := storetest.Open(t, "sqlite")
	in := ingest.New(st, storetest.Logger(t), "")
	for _, tt := range []struct{ path, want string }{
		{zipPath, "ZIP archive"},
		{binPath, "binary"},
		{proseFile, "limnoria, irssi, weechat, hexchat, znc, plain"},
	} {
		rep, err := in.ImportFile(context.Background(), tt.path, ingest.ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one saying %q", filepath.Base(tt.path), err, tt.want)
		}
		if len(rep.Rejected) > 0 {
			t.Errorf("%s: %d lines rejected; the file should be refused whole", filepath.Base(tt.path), len(rep.Rejected))
		}
		if !errors.Is(err, ingest.ErrUnknownFormat) {
			t.Errorf("%s: error %v is not ErrUnknownFormat", filepath.Base(tt.path), err)
		}
	}
}

// ircFiles are the fixture logs, one per format, of one channel in
// time order.
var ircFiles = []struct{ name, format string }{
	{"opendev.2021-08-17.log", "irc:limnoria"},
	{"irssi-opendev.log", "irc:irssi"},
	{"weechat-opendev.weechatlog", "irc:weechat"},
	{"2021-08-18.log", "irc:znc"},
	{"hexchat-opendev.log", "irc:hexchat"},
	{"20210818-plain.txt", "irc:plain"},
}

// ircMessages are the fixtures' messages in order, as "nick: body".
var ircMessages = []string{
	"fungi: limnoria first line of the day",
	"fungi: limnoria second line, same second",
	"corvus: waves",
	"openstackgerrit: limnoria notice merged",
	"clarkb: irssi first",
	"fungi: irssi second, same minute",
	"clarkb: irssi action",
	"fungi: irssi after midnight",
	"corvus: weechat hello €",
	"corvus: weechat action",
	"ianw: znc line with bold and colour",
	"ianw: znc café in latin-1",
	"frickler: hexchat hello",
	"frickler: hexchat action",
	"gerritbot: hexchat notice",
	"jrosser: plain first",
	"jrosser: plain second",
	"jrosser: has some thoughts",
	"jrosser: plain action",
}

func ircOptions(t *testing.T) *ingest.IRCOptions {
	t.Helper()
	alias := "#opendev:archive.test"
	room, err := irclog.RoomID(alias)
	if err != nil {
		t.Fatal(err)
	}
	return &ingest.IRCOptions{NewRoomAlias: alias, Options: irclog.Options{
		Network: "OFTC", Channel: "#opendev", Server: "archive.test", Room: room}}
}

func importIRC(t *testing.T, in *ingest.Ingester, path string, opts *ingest.IRCOptions) ingest.ImportReport {
	t.Helper()
	rep, err := in.ImportFile(context.Background(), path, ingest.ImportOptions{IRC: opts, BatchSize: 4, RouteUnclaimedAliases: true})
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return rep
}

// Logs of every format go into one new room, in order, named by their
// nicks; importing them again, or an overlapping export, adds nothing; a
// changed line is reported and the archived one kept.
func TestImportIRC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		opts := ircOptions(t)
		in := ingest.New(st, storetest.Logger(t), "")
		for _, f := range ircFiles {
			rep := importIRC(t, in, filepath.Join("../testdata/irc", f.name), opts)
			if string(rep.Format) != f.format {
				t.Errorf("%s read as %s, want %s", f.name, rep.Format, f.format)
			}
			wantRejected := 0
			if f.format == "irc:limnoria" {
				wantRejected = 1
			}
			if len(rep.Rejected) != wantRejected {
				t.Errorf("%s: rejected %v, want %d", f.name, rep.Rejected, wantRejected)
			}
			if rep.Stored == 0 || rep.NotPublic > 0 || len(rep.Changed) > 0 {
				t.Errorf("%s: %s", f.name, rep)
			}
		}
		if r := filepath.Join("../testdata/irc", ircFiles[0].name); true {
			rep := importIRC(t, in, r, opts)
			if len(rep.Rejected) != 1 || rep.Rejected[0].Line != 8 || !strings.Contains(rep.Rejected[0].Error(), "this line fits no format") {
				t.Errorf("rejected lines: %v; want line 8 named", rep.Rejected)
			}
		}

		room, err := st.Room(ctx, opts.Room)
		if err != nil {
			t.Fatal(err)
		}
		if room.Name != "#opendev" || room.CanonicalAlias != "#opendev:archive.test" || room.Topic != "irssi topic" {
			t.Errorf("room: name %q alias %q topic %q", room.Name, room.CanonicalAlias, room.Topic)
		}
		if got, err := st.RoomIDByAlias(ctx, "#opendev:archive.test"); err != nil || got != opts.Room {
			t.Errorf("alias resolves to %s, %v", got, err)
		}
		got := ircDay(t, st, opts.Room)
		if strings.Join(got, "\n") != strings.Join(ircMessages, "\n") {
			t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(ircMessages, "\n"))
		}

		// Everything again, then a WeeChat export overlapping the ZNC day
		// file, with one line changed (its spelling, as a re-export that
		// lost the Latin-1 accent changes it: the same nick saying much
		// the same at that position is that line changed, sameLine).
		for _, f := range ircFiles {
			rep := importIRC(t, in, filepath.Join("../testdata/irc", f.name), opts)
			if rep.Stored != 0 || len(rep.Changed) > 0 {
				t.Errorf("%s again: %s", f.name, rep)
			}
		}
		overlap := filepath.Join(t.TempDir(), "weechat-overlap.log")
		os.WriteFile(overlap, []byte("2021-08-18 02:00:02\tianw\tznc line with bold and colour\n"+
			"2021-08-18 02:00:02\tianw\tznc cafe in latin-1, rewritten\n"), 0o600)
		rep := importIRC(t, in, overlap, opts)
		// Two lines and the room's three creation events, all known.
		if rep.Stored != 0 || rep.Duplicates != 5 {
			t.Errorf("overlapping export: %s", rep)
		}
		if len(rep.Changed) != 1 || rep.Changed[0].Line != 2 || !errors.Is(rep.Changed[0].Err, ingest.ErrIRCChanged) ||
			!strings.Contains(rep.Changed[0].Error(), "2021-08-18.log line 3") {
			t.Errorf("changed lines: %v; want line 2, archived from 2021-08-18.log line 3", rep.Changed)
		}
		if got := ircDay(t, st, opts.Room); strings.Join(got, "\n") != strings.Join(ircMessages, "\n") {
			t.Errorf("after re-imports:\n%s", strings.Join(got, "\n"))
		}
	})
}

// ircDay lists the room's public messages over the fixtures' two days.
func ircDay(t *testing.T, st *store.Store, room id.RoomID) []string {
	t.Helper()
	from := time.Date(2021, 8, 17, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs, err := st.DayEvents(context.Background(), room, from, from+2*86400000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Type != "m.room.message" || !e.Public {
			continue
		}
		out = append(out, e.SenderName+": "+event.StringField(e.Content, "body"))
	}
	return out
}

// A file the importer recognises as IRC but that comes without the
// options saying where it goes is refused, naming what is missing.
func TestImportIRCNeedsOptions(t *testing.T) {
	st := storetest.Open(t, "sqlite")
	in := ingest.New(st, storetest.Logger(t), "")
	_, err := in.ImportFile(context.Background(), "../testdata/irc/2021-08-18.log", ingest.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "--network") {
		t.Errorf("error %v, want one asking for --network", err)
	}
}

// IRC logs imported into a Matrix room (--room) bring their nicks' joins
// as history, but the nicks are not members of the Matrix room: they must
// not be counted among its joined members, nor outnumber its real servers
// when matrix.to links choose their via servers.
func TestIRCIntoMatrixRoomAddsNoMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		const y2024 = int64(1704067200000)
		member := func(evID, user string, ts int64) string {
			return ev(evID, "m.room.member", user, ts, sk(user), `{"membership":"join"}`)
		}
		matrix := writeLines(t, []string{
			ev("$create", "m.room.create", "@alice:example.org", y2024, sk(""), `{"room_version":"10","creator":"@alice:example.org"}`),
			member("$ja", "@alice:example.org", y2024+1),
			ev("$pl", "m.room.power_levels", "@alice:example.org", y2024+2, sk(""), `{"users":{"@alice:example.org":100}}`),
			ev("$hv", "m.room.history_visibility", "@alice:example.org", y2024+3, sk(""), `{"history_visibility":"world_readable"}`),
			member("$jb", "@bob:matrix.org", y2024+4),
			member("$jc", "@carol:matrix.org", y2024+5),
			member("$jd", "@dave:other.net", y2024+6),
			msg("$m", y2024+7, "the Matrix room's own history"),
		})
		importFile(t, in, matrix, ingest.ImportOptions{})

		var log strings.Builder
		log.WriteString("--- Log opened Tue Aug 17 20:00:00 2021\n")
		for i, nick := range []string{"clarkb", "fungi", "ianw", "corvus", "frickler"} {
			fmt.Fprintf(&log, "20:0%d -!- %s [~%s@198.51.100.7] has joined #opendev\n", i, nick, nick)
			fmt.Fprintf(&log, "20:0%d < %s> hello from IRC\n", i, nick)
		}
		path := filepath.Join(t.TempDir(), "irssi-opendev.log")
		if err := os.WriteFile(path, []byte(log.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		rep := importIRC(t, in, path, &ingest.IRCOptions{Options: irclog.Options{
			Network: "OFTC", Channel: "#opendev", Server: "archive.test", Room: room}})
		if rep.Stored < 10 || len(rep.Rejected) > 0 {
			t.Fatalf("IRC import: %s", rep)
		}

		members, err := st.JoinedMembers(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(members), "[@alice:example.org @bob:matrix.org @carol:matrix.org @dave:other.net]"; got != want {
			t.Errorf("JoinedMembers = %s, want %s", got, want)
		}
		pl, err := st.CurrentState(ctx, room, event.TypePowerLevels, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(event.ViaServers(pl, members, nil, []id.UserID{"@alice:example.org"})), "[example.org matrix.org other.net]"; got != want {
			t.Errorf("via servers %s, want %s", got, want)
		}
	})
}

// Puppets of an IRC bridge the operator configured are named by their
// nick when they set no display name, so a reader sees the same name as in
// the imported IRC years; a display name they set wins, and a look-alike
// user ID on a server no bridge names keeps its user ID.
func TestBridgedPuppetsNamedByNick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		in.SetIRCBridges(irclog.Bridges{{Server: "matrix.org", Prefix: "_oftc_"}})
		bare := func(evID, user string, ts int64) string {
			return ev(evID, "m.room.member", user, ts, sk(user), `{"membership":"join"}`)
		}
		say := func(evID, user string, ts int64) string {
			return ev(evID, "m.room.message", user, ts, nil, `{"msgtype":"m.text","body":"hello"}`)
		}
		path := writeLines(t, append(header("world_readable"),
			bare("$jp", "@_oftc_clarkb:matrix.org", 10), say("$mp", "@_oftc_clarkb:matrix.org", 11),
			ev("$jn", "m.room.member", "@_oftc_fungi:matrix.org", 12, sk("@_oftc_fungi:matrix.org"), `{"membership":"join","displayname":"Jeremy"}`),
			say("$mn", "@_oftc_fungi:matrix.org", 13),
			bare("$jo", "@_oftc_corvus:evil.example", 14), say("$mo", "@_oftc_corvus:evil.example", 15),
			say("$mu", "@_oftc_ianw:matrix.org", 16), // never joined in the archive's view
		))
		importFile(t, in, path, ingest.ImportOptions{})
		want := map[id.EventID]string{"$jp": "clarkb", "$mp": "clarkb", "$jn": "Jeremy", "$mn": "Jeremy", "$jo": "", "$mo": "", "$mu": "ianw"}
		for evID, name := range want {
			e, err := st.EventByID(ctx, evID)
			if err != nil {
				t.Fatal(err)
			}
			if e.SenderName != name {
				t.Errorf("%s by %s is named %q, want %q", evID, e.Sender, e.SenderName, name)
			}
		}
	})
}

// TestIRCLinesEndingInCRAlone: a log whose lines end in a carriage return
// alone (a classic Mac OS client's), or that holds some such lines among
// LF and CR LF ones, is imported a line each. Each was read as part of
// one line, a CR-only file as one message of every line, with no line
// reported.
func TestIRCLinesEndingInCRAlone(t *testing.T) {
	for name, text := range map[string]string{
		"CR alone": "2021-08-17T19:00:24  <fungi> first\r2021-08-17T19:00:25  <clarkb> second\r2021-08-17T19:00:26  <corvus> third\r",
		"mixed":    "2021-08-17T19:00:24  <fungi> first\n2021-08-17T19:00:25  <clarkb> second\r\n2021-08-17T19:00:26  <corvus> third",
		"mixed CR": "2021-08-17T19:00:24  <fungi> first\r\n2021-08-17T19:00:25  <clarkb> second\r2021-08-17T19:00:26  <corvus> third\n",
	} {
		t.Run(name, func(t *testing.T) {
			st := storetest.Open(t, "sqlite")
			in := ingest.New(st, storetest.Logger(t), "")
			opts := ircOptions(t)
			p := filepath.Join(t.TempDir(), "opendev.2021-08-17.log")
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if rep := importIRC(t, in, p, opts); len(rep.Rejected) != 0 {
				t.Errorf("rejected %v", rep.Rejected)
			}
			if got := strings.Join(ircDay(t, st, opts.Room), " / "); got != "fungi: first / clarkb: second / corvus: third" {
				t.Errorf("imported %q", got)
			}
		})
	}
}

// TestIRCReimportWithAnotherZoneIsReported: a log imported again with
// another --tz (the first import took UTC, the log was Berlin's) keeps
// its lines where they were archived, since a line's ID comes from its
// day and time as written, and the report says so line by line, rather
// than that they were all already archived.
func TestIRCReimportWithAnotherZoneIsReported(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	st := storetest.Open(t, "sqlite")
	in := ingest.New(st, storetest.Logger(t), "")
	opts := ircOptions(t)
	p := filepath.Join(t.TempDir(), "2021-08-17.log")
	if err := os.WriteFile(p, []byte("[19:00:24] <fungi> said at 19:00 Berlin time\n[19:00:30] <fungi> again\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep := importIRC(t, in, p, opts); len(rep.Changed) != 0 {
		t.Fatalf("first import: %v", rep.Changed)
	}
	if rep := importIRC(t, in, p, opts); len(rep.Changed) != 0 {
		t.Errorf("the same import again reports %v", rep.Changed)
	}
	inBerlin := *opts
	inBerlin.Location = berlin
	rep := importIRC(t, in, p, &inBerlin)
	var moved []int
	for _, c := range rep.Changed {
		if errors.Is(c.Err, ingest.ErrIRCMoved) {
			moved = append(moved, c.Line)
		}
	}
	if len(moved) != 2 || moved[0] != 1 || moved[1] != 2 || !strings.Contains(rep.Changed[0].Err.Error(), "2021-08-17T19:00:24Z") {
		t.Errorf("again with --tz Europe/Berlin: %v", rep.Changed)
	}
}

// TestOverlappingLogsKeepEveryLine: two people's irssi logs of one channel
// (irssi's default stamp is HH:MM, so many lines share a written time)
// overlap within one minute: Bob's client joined after "one" and Alice's
// left after "three". A line's ID is its position among the lines of its
// written time in its own file, so Bob's "two", "three" and "four" had the
// IDs of Alice's "one", "two" and "three", and "four", a line only Bob's
// log has, was dropped as a "changed" line; so were all the lines of a log
// split into two files within a minute (a client restarted into a new
// file) past the first file's (helper-101). Each log imported again adds
// nothing.
func TestOverlappingLogsKeepEveryLine(t *testing.T) {
	for name, files := range map[string][2]string{
		"overlap": {
			"--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n19:00 <corvus> three\n--- Log closed Tue Aug 17 19:00:50 2021\n",
			"--- Log opened Tue Aug 17 19:00:10 2021\n19:00 <clarkb> two\n19:00 <corvus> three\n19:00 <fungi> four\n19:01 <fungi> five\n",
		},
		"split": {
			"--- Log opened Tue Aug 17 19:00:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n19:00 <corvus> three\n--- Log closed Tue Aug 17 19:00:30 2021\n",
			"--- Log opened Tue Aug 17 19:00:31 2021\n19:00 <fungi> four\n19:01 <fungi> five\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
				paths := importLogs(t, in, opts, []string{"alice-opendev.log", "bob-opendev.log"}, files[:])
				want := "fungi: one / clarkb: two / corvus: three / fungi: four / fungi: five"
				if got := strings.Join(ircDay(t, st, opts.Room), " / "); got != want {
					t.Errorf("archived %q\nwant     %q (every line of either log, once)", got, want)
				}
				for _, p := range paths {
					if rep := importIRC(t, in, p, opts); rep.Stored != 0 || len(rep.Changed) > 0 {
						t.Errorf("%s again: %s, changed %v; want nothing stored", filepath.Base(p), rep, rep.Changed)
					}
				}
				if got := strings.Join(ircDay(t, st, opts.Room), " / "); got != want {
					t.Errorf("after importing both again %q\nwant     %q", got, want)
				}
			})
		})
	}
}

// TestOverlappingLogsInEitherOrder: overlapping logs imported in either
// order keep every line once. When the log that began later in the
// minute came first, the other's lines at positions that log never had
// were stored again (only lines whose position was held were matched by
// what they said; helper-112), and "three" was archived twice. A line of
// the second log before the first archived line of its minute cannot be
// put before it (that line is at the minute's first millisecond): it
// follows the minute's archived lines, so only the lines, not their order,
// are held here.
func TestOverlappingLogsInEitherOrder(t *testing.T) {
	early := "--- Log opened Tue Aug 17 18:59:00 2021\n19:00 <fungi> one\n19:00 <clarkb> two\n19:00 <corvus> three\n19:01 <fungi> five\n"
	late := "--- Log opened Tue Aug 17 19:00:10 2021\n19:00 <clarkb> two\n19:00 <corvus> three\n19:00 <fungi> four\n19:01 <fungi> five\n"
	shorter := "--- Log opened Tue Aug 17 19:00:10 2021\n19:00 <clarkb> two\n19:00 <corvus> three\n19:01 <fungi> five\n"
	for name, c := range map[string]struct {
		order [2]string
		want  string
	}{
		"early first":         {[2]string{early, late}, "clarkb: two / corvus: three / fungi: five / fungi: four / fungi: one"},
		"late first":          {[2]string{late, early}, "clarkb: two / corvus: three / fungi: five / fungi: four / fungi: one"},
		"late and less first": {[2]string{shorter, early}, "clarkb: two / corvus: three / fungi: five / fungi: one"},
	} {
		order := c.order
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				in, opts := ingest.New(st, storetest.Logger(t), ""), ircOptions(t)
				paths := importLogs(t, in, opts, []string{"log0-opendev.log", "log1-opendev.log"}, order[:])
				for _, p := range paths {
					if rep := importIRC(t, in, p, opts); rep.Stored != 0 || len(rep.Changed) > 0 {
						t.Errorf("%s again: %s, changed %v; want nothing stored", filepath.Base(p), rep, rep.Changed)
					}
				}
				got := ircDay(t, st, opts.Room)
				slices.Sort(got)
				if want := c.want; strings.Join(got, " / ") != want {
					t.Errorf("archived (sorted) %q\nwant              %q (every line of either log, once)", strings.Join(got, " / "), want)
				}
			})
		})
	}
}

// importLogs writes each text to a file of its name and imports them in
// order, none reporting a changed line; it returns their paths.
func importLogs(t *testing.T, in *ingest.Ingester, opts *ingest.IRCOptions, names, texts []string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, text := range texts {
		p := filepath.Join(dir, names[i])
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		if rep := importIRC(t, in, p, opts); len(rep.Changed) > 0 {
			t.Errorf("%s: changed %v", filepath.Base(p), rep.Changed)
		}
	}
	return paths
}
