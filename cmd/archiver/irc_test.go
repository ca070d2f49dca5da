package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/irclog"
)

func ircFixtures(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/irc/*")
	if err != nil || len(files) < 6 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	return files
}

// archiver import reads IRC logs by content into a new room (or an
// archived one), counts what it did, and names the line that fits nothing;
// archiver optout --irc hides a nick's lines.
func TestImportIRCCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	files := ircFixtures(t)

	// Without the flags saying where it goes, an IRC log is refused.
	err := run(ctx, []string{"import", files[0]}, &out, &errs)
	if err == nil || !strings.Contains(errs.String(), "--network") {
		t.Errorf("import without IRC flags: %v\n%s", err, errs.String())
	}
	errs.Reset()
	args := append([]string{"import", "--network", "OFTC", "--channel", "#opendev", "--new-room", "#opendev:irc.example", "--tz", "UTC"}, files...)
	if err := run(ctx, args, &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if !strings.Contains(errs.String(), "opendev.2021-08-17.log: line 8: the line fits no known form") {
		t.Errorf("the bad line is not named with file and line:\n%s", errs.String())
	}
	if !strings.Contains(out.String(), "(irc:hexchat)") || !strings.Contains(out.String(), "(irc:plain)") ||
		// Each file carries the new room's three creation events: stored once.
		!strings.Contains(out.String(), "total: 6 files, 50 events read, 35 stored, 15 already archived, 0 not public; 1 lines rejected") {
		t.Errorf("report:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, args, &out, &errs); err != nil {
		t.Fatalf("import again: %v", err)
	}
	if strings.Count(out.String(), " 0 stored") != len(files)+1 { // and the total
		t.Errorf("importing again stored something:\n%s", out.String())
	}

	// Into an archived Matrix room, before its own history.
	if err := run(ctx, []string{"import", "../../testdata/demo/ansible-community.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "--network", "libera", "--channel", "#ansible", "--room", "!aNsIbLeCoMmUnItY:example.org", "../../testdata/irc/opendev.2021-08-17.log"}, &out, &errs); err != nil {
		t.Fatalf("import --room: %v\n%s", err, errs.String())
	}
	out.Reset()
	if err := run(ctx, []string{"import", "--network", "OFTC", "--channel", "#opendev", "--new-room", "#opendev:irc.example",
		"--successor", "!aNsIbLeCoMmUnItY:example.org", "../../testdata/irc/2021-08-18.log"}, &out, &errs); err != nil {
		t.Fatalf("import --successor: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "linked both ways") {
		t.Errorf("--successor output:\n%s", out.String())
	}
	if err := run(ctx, []string{"import", "--network", "libera", "--channel", "#ansible", "--room", "!nOsUcH:example.org", files[0]}, &out, &errs); err == nil {
		t.Error("import into a room the archive does not hold succeeded")
	}

	if err := run(ctx, []string{"optout", "--irc", "Fungi", "--room", "#opendev:irc.example"}, &out, &errs); err != nil {
		t.Fatalf("optout --irc: %v\n%s", err, errs.String())
	}
	if err := run(ctx, []string{"optout", "--irc", "fungi", "--room", "!aNsIbLeCoMmUnItY:example.org"}, &out, &errs); err != nil {
		t.Fatalf("optout --irc: %v\n%s", err, errs.String())
	}

	st := openDataDir(t, dir)
	defer st.Close()
	newRoom, _ := irclog.RoomID("#opendev:irc.example")
	if r, err := st.Room(ctx, newRoom); err != nil || r.Successor != "!aNsIbLeCoMmUnItY:example.org" {
		t.Errorf("IRC room's successor %q, %v", r.Successor, err)
	}
	if p, err := st.ImportedPredecessor(ctx, "!aNsIbLeCoMmUnItY:example.org"); err != nil || p != newRoom {
		t.Errorf("Matrix room's imported predecessor %q, %v", p, err)
	}
	for _, room := range []string{string(newRoom), "!aNsIbLeCoMmUnItY:example.org"} {
		evs, err := st.DayEvents(ctx, id.RoomID(room), 0, 1<<42)
		if err != nil {
			t.Fatal(err)
		}
		var fungi, others int
		for _, e := range evs {
			if e.Type != "m.room.message" || !strings.HasPrefix(string(e.ID), "$irc-") {
				continue
			}
			if !e.Public {
				t.Errorf("%s: %s not public", room, e.ID)
			}
			if strings.Contains(string(e.Sender), "_fungi:") {
				fungi++
				if !e.OptedOut || strings.Contains(string(e.Content), "limnoria") {
					t.Errorf("%s: fungi's line %s shown after optout --irc: %s", room, e.ID, e.Content)
				}
			} else {
				others++
			}
		}
		if fungi == 0 || others == 0 {
			t.Errorf("%s: %d lines of fungi, %d of others", room, fungi, others)
		}
	}
}

// --date is the day of one dateless log: given to several, it would put
// all their lines on one day, so the import refuses before storing any.
func TestImportDateGivesOneDay(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	plain, err := os.ReadFile("../../testdata/irc/20210818-plain.txt")
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	var dateless []string
	for _, name := range []string{"monday.txt", "tuesday.txt"} {
		p := filepath.Join(logs, name)
		if err := os.WriteFile(p, plain, 0o644); err != nil {
			t.Fatal(err)
		}
		dateless = append(dateless, p)
	}
	flags := []string{"import", "--network", "OFTC", "--channel", "#opendev", "--new-room", "#opendev:irc.example", "--tz", "UTC", "--date", "2021-08-18"}
	var out, errs bytes.Buffer
	err = run(ctx, append(flags, dateless...), &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "2 files carry no date in their names (monday.txt, tuesday.txt)") {
		t.Fatalf("--date for two dateless logs: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "stored") {
		t.Errorf("refused, yet imported:\n%s", out.String())
	}
	// One dateless log beside dated ones takes it.
	out.Reset()
	if err := run(ctx, append(flags, dateless[0], "../../testdata/irc/opendev.2021-08-17.log"), &out, &errs); err != nil {
		t.Fatalf("--date for one dateless log: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "(irc:plain)") || !strings.Contains(out.String(), "total: 2 files") {
		t.Errorf("report:\n%s", out.String())
	}
}

// optout --irc applies to a nick's imported lines in one room. The same
// nick's puppet on a configured IRC bridge is a Matrix user of its own,
// in every room: the command leaves it alone and tells the operator of
// it, with the command that would apply to it.
func TestOptOutIRCNamesTheBridgesPuppet(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	t.Setenv("MXARCHIVE_IRC_BRIDGES", "libera.chat=libera_")
	ctx := context.Background()
	var out, errs bytes.Buffer
	const room = "!aNsIbLeCoMmUnItY:example.org"
	if err := run(ctx, []string{"import", "../../testdata/demo/ansible-community.ndjson"}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", "--network", "libera", "--channel", "#ansible", "--room", room, "../../testdata/irc/opendev.2021-08-17.log"}, &out, &errs); err != nil {
		t.Fatalf("import --room: %v\n%s", err, errs.String())
	}
	// fungi went on talking through the bridge.
	live := filepath.Join(t.TempDir(), "live.ndjson")
	if err := os.WriteFile(live, []byte(`{"event_id":"$live","room_id":"`+room+`","type":"m.room.message","sender":"@libera_fungi:libera.chat","origin_server_ts":1772442200000,"content":{"msgtype":"m.text","body":"hello from the bridge"}}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"import", live}, &out, &errs); err != nil {
		t.Fatalf("import the puppet's message: %v\n%s", err, errs.String())
	}
	for _, nick := range []string{"fungi", "corvus"} {
		out.Reset()
		if err := run(ctx, []string{"optout", "--irc", nick, "--room", room}, &out, &errs); err != nil {
			t.Fatalf("optout --irc %s: %v\n%s", nick, err, errs.String())
		}
		hint := "archiver optout @libera_" + nick + ":libera.chat"
		if got := strings.Contains(out.String(), hint); got != (nick == "fungi") {
			t.Errorf("optout --irc %s: output names the puppet: %v, want %v (only fungi's puppet has spoken):\n%s", nick, got, nick == "fungi", out.String())
		}
	}
	st := openDataDir(t, dir)
	defer st.Close()
	ev, err := st.EventByID(ctx, "$live")
	if err != nil || ev.OptedOut {
		t.Errorf("the puppet's message: opted out %v, %v; want it left to the operator", ev.OptedOut, err)
	}
}

// A flag after the log file (archiver import … 2021-08-18.log --tz
// Europe/Berlin, as operator commands allow: takedown $ev --reason x)
// applies to the file: taken for a file name, it left the log imported in
// UTC, its lines at the wrong instants for good (a re-import with the
// right --tz is reported and the archived one kept).
func TestImportTakesFlagsAfterTheFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	log := filepath.Join(t.TempDir(), "2021-08-18.log")
	if err := os.WriteFile(log, []byte("[12:00] <alice> hello from Berlin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", "--network", "OFTC", "--channel", "#berlin", "--new-room", "#berlin:irc.example",
		log, "--tz", "Europe/Berlin"}, &out, &errs); err != nil {
		t.Errorf("import with --tz after the file: %v\n%s", err, errs.String())
	}
	st := openDataDir(t, dir)
	defer st.Close()
	room, _ := irclog.RoomID("#berlin:irc.example")
	evs, err := st.DayEvents(ctx, room, 0, 1<<42)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2021, 8, 18, 10, 0, 0, 0, time.UTC)
	found := false
	for _, e := range evs {
		if e.Type != "m.room.message" || !strings.Contains(string(e.Content), "hello from Berlin") {
			continue
		}
		found = true
		if got := time.UnixMilli(e.OriginTS).UTC(); !got.Equal(want) {
			t.Errorf("[12:00] of a log imported with --tz Europe/Berlin after the file is stored at %s, want %s: the flag was not taken",
				got.Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
	if !found {
		t.Errorf("the log's line is not in the room:\n%s\n%s", out.String(), errs.String())
	}
}

// archiver import names each line it leaves out because the archive holds
// it in another room, or deleted it before (a room purged after a log went
// into it by mistake), and its total counts the deleted: the reports had
// them, the command printed only the changed lines, and the total read as
// if nothing had been left out.
func TestImportNamesLinesKeptElsewhere(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	ctx := context.Background()
	var out, errs bytes.Buffer
	files := []string{"../../testdata/irc/opendev.2021-08-17.log", "../../testdata/irc/opendev.2021-08-17.log"}
	into := func(room string) []string {
		return append([]string{"import", "--network", "OFTC", "--channel", "#opendev", "--new-room", room, "--tz", "UTC"}, files...)
	}
	if err := run(ctx, into("#wrong:irc.example"), &out, &errs); err != nil {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	errs.Reset()
	if err := run(ctx, into("#second:irc.example"), &out, &errs); err != nil {
		t.Fatalf("import into a second room: %v\n%s", err, errs.String())
	}
	if !strings.Contains(errs.String(), "in another room") {
		t.Errorf("importing into a second room names no line held in the first:\n%s", errs.String())
	}
	if err := run(ctx, []string{"purge-room", "#wrong:irc.example", "--reason", "wrong room"}, &out, &errs); err != nil {
		t.Fatalf("purge-room: %v\n%s", err, errs.String())
	}
	out.Reset()
	errs.Reset()
	if err := run(ctx, into("#right:irc.example"), &out, &errs); err != nil {
		t.Fatalf("import into the right room: %v\n%s", err, errs.String())
	}
	if !strings.Contains(errs.String(), "(not imported again)") {
		t.Errorf("importing after the purge names no line deleted before:\n%s", errs.String())
	}
	if !strings.Contains(out.String(), "events deleted from the archive before, not imported again") {
		t.Errorf("the total does not count the lines deleted before:\n%s", out.String())
	}
}
