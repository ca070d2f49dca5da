package irclog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	mxevent "github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/corpus"
)

var testOpts = Options{Network: "OFTC", Channel: "#opendev", Server: "archive.test", Room: "!r:archive.test"}

type wire struct {
	ID       string          `json:"event_id"`
	Sender   string          `json:"sender"`
	Type     string          `json:"type"`
	StateKey *string         `json:"state_key"`
	TS       int64           `json:"origin_server_ts"`
	Content  json.RawMessage `json:"content"`
}

// convert runs lines through a converter and decodes the events.
func convert(t *testing.T, f Format, path string, opts Options, lines ...string) ([]wire, []error) {
	t.Helper()
	c, err := NewConverter(f, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []wire
	var errs []error
	for i, l := range lines {
		ev, err := c.Line(i+1, []byte(l))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ev == nil {
			continue
		}
		var w wire
		if err := json.Unmarshal(ev.JSON, &w); err != nil {
			t.Fatal(err)
		}
		if string(ev.ID) != w.ID {
			t.Errorf("Event.ID %s, JSON %s", ev.ID, w.ID)
		}
		out = append(out, w)
	}
	return out, errs
}

func TestConvertKinds(t *testing.T) {
	evs, errs := convert(t, Limnoria, "x.log", testOpts,
		"2021-08-17T19:00:24  <Fungi> hello",
		"2021-08-17T19:00:24  * fungi waves",
		"2021-08-17T19:00:24  -gerritbot- merged",
		"2021-08-17T19:00:25  *** fungi <f@h> has joined #opendev",
		"2021-08-17T19:00:25  *** fungi <f@h> has left #opendev (bye)",
		"2021-08-17T19:00:25  *** spam_bot was kicked by fungi (spam)",
		"2021-08-17T19:00:26  *** fungi is now known as fungi_",
		`2021-08-17T19:00:27  *** fungi changes topic to "t"`,
		"2021-08-17T19:00:28  *** ChanServ sets mode: +o fungi",
		"nonsense",
	)
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoFit) {
		t.Errorf("errors: %v, want one ErrNoFit", errs)
	}
	want := []struct{ typ, stateKey, sender, content string }{
		{"m.room.message", "", "@irc_oftc_fungi:archive.test", `"body":"hello","msgtype":"m.text"`},
		{"m.room.message", "", "@irc_oftc_fungi:archive.test", `"body":"waves","msgtype":"m.emote"`},
		{"m.room.message", "", "@irc_oftc_gerritbot:archive.test", `"body":"merged","msgtype":"m.notice"`},
		{"m.room.member", "@irc_oftc_fungi:archive.test", "@irc_oftc_fungi:archive.test", `"displayname":"fungi","membership":"join"`},
		{"m.room.member", "@irc_oftc_fungi:archive.test", "@irc_oftc_fungi:archive.test", `"membership":"leave","org.mxarchive.irc"`},
		{"m.room.member", "@irc_oftc_spam__bot:archive.test", "@irc_oftc_fungi:archive.test", `"reason":"spam"`},
		{"m.room.member", "@irc_oftc_fungi:archive.test", "@irc_oftc_fungi:archive.test", `"displayname":"fungi","membership":"leave","org.mxarchive.irc":{"network":"OFTC","channel":"#opendev","source":"x.log","line":7,"nick":"fungi","hash":`},
		{"m.room.topic", "", "@irc_oftc_fungi:archive.test", `"topic":"t"`},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events, want %d", len(evs), len(want))
	}
	for i, w := range want {
		e := evs[i]
		sk := ""
		if e.StateKey != nil {
			sk = *e.StateKey
		}
		if e.Type != w.typ || sk != w.stateKey || e.Sender != w.sender || !strings.Contains(string(e.Content), w.content) {
			t.Errorf("event %d: %s %q %s %s; want %+v", i, e.Type, sk, e.Sender, e.Content, w)
		}
		if (w.typ != "m.room.message") != (e.StateKey != nil) {
			t.Errorf("event %d: state key %v", i, e.StateKey)
		}
		if !strings.HasPrefix(e.ID, "$irc-") {
			t.Errorf("event ID %s", e.ID)
		}
	}
	if !strings.Contains(string(evs[0].Content), `"org.mxarchive.irc":{"network":"OFTC","channel":"#opendev","source":"x.log","line":1,"nick":"Fungi"`) {
		t.Errorf("provenance: %s", evs[0].Content)
	}
	if !strings.Contains(string(evs[4].Content), `"reason":"bye"`) {
		t.Errorf("part reason: %s", evs[4].Content)
	}
}

// Minute-resolution lines keep their order: each line of a minute is one
// millisecond after the one before it, and untimed lines share the
// previous line's time.
func TestConvertOrderWithinMinute(t *testing.T) {
	evs, errs := convert(t, Plain, "2004-12-25.raw.txt", testOpts,
		"[09:14] <a> one", "[09:14] <b> two", "=== c [c@h]  has joined #ubuntu", "[09:14] <a> three", "[09:15] <a> four")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	base := time.Date(2004, 12, 25, 9, 14, 0, 0, time.UTC).UnixMilli()
	for i, want := range []int64{base, base + 1, base + 2, base + 3, base + 60000} {
		if evs[i].TS != want {
			t.Errorf("line %d at %d, want %d", i+1, evs[i].TS, want)
		}
	}
}

func TestConvertTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	opts := testOpts
	opts.Location = berlin
	for _, tt := range []struct {
		name, file, line string
		f                Format
		want             time.Time
	}{
		{"summer, day file", "2021-08-17.log", "[19:00:24] <a> x", ZNC, time.Date(2021, 8, 17, 17, 0, 24, 0, time.UTC)},
		{"winter, dated line", "x.log", "2021-01-05T00:30:00  <a> x", Limnoria, time.Date(2021, 1, 4, 23, 30, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			evs, errs := convert(t, tt.f, tt.file, opts, tt.line)
			if len(errs) > 0 || len(evs) != 1 {
				t.Fatal(errs)
			}
			if got := time.UnixMilli(evs[0].TS).UTC(); !got.Equal(tt.want) {
				t.Errorf("at %s, want %s", got, tt.want)
			}
		})
	}
}

// The same line gets the same ID from any file holding it: a day file and
// a longer log that overlaps it, a file read twice. A different day, time
// or position gets another.
func TestConvertIDsStable(t *testing.T) {
	day, _ := convert(t, ZNC, "2021-08-18.log", testOpts, "[02:00:02] <ianw> a", "[02:00:02] <ianw> b")
	long, _ := convert(t, WeeChat, "weechat.log", testOpts,
		"2021-08-17 23:59:59\tianw\tthe day before", "2021-08-18 02:00:02\tianw\ta", "2021-08-18 02:00:02\tianw\tb")
	if day[0].ID != long[1].ID || day[1].ID != long[2].ID {
		t.Errorf("overlapping files give different IDs: %s %s / %s %s", day[0].ID, day[1].ID, long[1].ID, long[2].ID)
	}
	if day[0].ID == day[1].ID || long[0].ID == long[1].ID {
		t.Error("two lines share an ID")
	}
	other := testOpts
	other.Channel = "#zuul"
	z, _ := convert(t, ZNC, "2021-08-18.log", other, "[02:00:02] <ianw> a")
	if z[0].ID == day[0].ID {
		t.Error("another channel's line has the same ID")
	}
	// Channel names are case-insensitive on IRC.
	other.Channel = "#OpenDev"
	o, _ := convert(t, ZNC, "2021-08-18.log", other, "[02:00:02] <ianw> a")
	if o[0].ID != day[0].ID {
		t.Error("#OpenDev and #opendev differ")
	}
}

func TestConvertDates(t *testing.T) {
	t.Run("irssi day change", func(t *testing.T) {
		evs, errs := convert(t, Irssi, "irssi.log", testOpts,
			"--- Log opened Tue Aug 17 23:59:00 2021", "23:59 <a> x", "--- Day changed Wed Aug 18 2021", "00:01 <a> y")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := time.UnixMilli(evs[1].TS).UTC(); !got.Equal(time.Date(2021, 8, 18, 0, 1, 0, 0, time.UTC)) {
			t.Errorf("after the day change: %s", got)
		}
	})
	t.Run("hexchat new year", func(t *testing.T) {
		evs, errs := convert(t, HexChat, "hexchat.log", testOpts,
			"**** BEGIN LOGGING AT Fri Dec 31 23:00:00 2021", "Dec 31 23:59:59 <a>\tx", "Jan 01 00:00:01 <a>\ty")
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if got := time.UnixMilli(evs[1].TS).UTC(); !got.Equal(time.Date(2022, 1, 1, 0, 0, 1, 0, time.UTC)) {
			t.Errorf("after New Year: %s", got)
		}
	})
	t.Run("no date", func(t *testing.T) {
		// A day file without its day is refused whole, not line by line.
		for _, f := range []Format{Plain, ZNC} {
			if _, err := NewConverter(f, "channel.log", testOpts); !errors.Is(err, ErrNoDate) {
				t.Errorf("%s: NewConverter: %v, want ErrNoDate", f, err)
			}
		}
		_, errs := convert(t, Irssi, "channel.log", testOpts, "09:14 <a> x")
		if len(errs) != 1 || !errors.Is(errs[0], ErrNoDate) {
			t.Errorf("irssi line before any date: errors %v, want ErrNoDate", errs)
		}
	})
	t.Run("date flag", func(t *testing.T) {
		opts := testOpts
		opts.Date = time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC)
		evs, errs := convert(t, Plain, "channel.log", opts, "[09:14] <a> x")
		if len(errs) > 0 || time.UnixMilli(evs[0].TS).UTC() != time.Date(2020, 2, 29, 9, 14, 0, 0, time.UTC) {
			t.Errorf("%v %v", evs, errs)
		}
	})
}

func TestSenderID(t *testing.T) {
	for _, tt := range []struct{ network, nick, want string }{
		{"libera", "Fungi", "@irc_libera_fungi:s"},
		{"libera", "fungi", "@irc_libera_fungi:s"},
		{"libera", "[m]_x", "@irc_libera_=5bm=5d__x:s"},
		{"OFTC net", "|QuaD-", "@irc_oftc=20net_=7cquad-:s"},
		{"x", "défi", "@irc_x_d=c3=a9fi:s"},
	} {
		if got := SenderID(tt.network, tt.nick, "s"); string(got) != tt.want {
			t.Errorf("SenderID(%q, %q) = %s, want %s", tt.network, tt.nick, got, tt.want)
		}
		if _, _, err := SenderID(tt.network, tt.nick, "s").Parse(); err != nil {
			t.Errorf("%s: %v", SenderID(tt.network, tt.nick, "s"), err)
		}
	}
}

// FuzzLine feeds any bytes to every reader and the converter: nothing
// panics, and every event produced is a valid event with the provenance.
func FuzzLine(f *testing.F) {
	for _, s := range []string{
		"2021-08-17T19:00:24  <corvus> zuul", "19:00 -!- a [b@c] has left #x [y]", "2021-08-17 19:00:24\t<--\ta has kicked b (c)",
		"Aug 17 19:00:24 *\ta has kicked b from #c (d)", "[19:00:24] *** Quits: a (b@c) (d)", "=== ..[topic/#u:a] : b",
		"[09:14] -a:#b- c", "\x03\x04\x02", "=== a was kicked off #b by ", "-a(b)- c",
		"[09:14] <" + strings.Repeat("\xff", 32) + "> x", "2021-08-17T19:00:24  *** " + strings.Repeat("é", 16) + " is now known as " + strings.Repeat("\x01", 32),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, format := range Formats {
			c, err := NewConverter(format, "2021-08-17.log", testOpts)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := c.Line(1, b)
			if err != nil || ev == nil {
				continue
			}
			var w wire
			if err := json.Unmarshal(ev.JSON, &w); err != nil {
				t.Fatalf("%s: %q gives bad JSON: %v", format, b, err)
			}
			if !strings.Contains(string(w.Content), ProvenanceKey) {
				t.Fatalf("%s: %q: no provenance", format, b)
			}
			// Every event made is one the importer accepts.
			if _, err := mxevent.Parse(ev.JSON); err != nil {
				t.Fatalf("%s: %q: %v", format, b, err)
			}
		}
	})
}

func TestSameNetworkSender(t *testing.T) {
	for _, tt := range []struct {
		u, nick, want string
		ok            bool
	}{
		{"@irc_oftc_fungi:s", "Clarkb", "@irc_oftc_clarkb:s", true},
		{"@irc_my__net_a__b:s", "x_y", "@irc_my__net_x__y:s", true},
		{"@irc_oftc:s", "x", "@irc_oftc_x:s", true}, // the network's own user
		{"@irc_:s", "x", "", false},
		{"@alice:s", "x", "", false},
	} {
		got, ok := SameNetworkSender(id.UserID(tt.u), tt.nick)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("SameNetworkSender(%s, %s) = %s, %v; want %s, %v", tt.u, tt.nick, got, ok, tt.want, tt.ok)
		}
	}
}

// Options that would make every line's sender an invalid user ID are
// refused up front with the reason, rather than rejecting every line.
func TestConverterRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"long network":     {Network: strings.Repeat("n", 100), Channel: "#c", Server: "s", Room: "!r:s"},
		"network spaces":   {Network: "my net", Channel: "#c", Server: "s", Room: "!r:s"},
		"server with at":   {Network: "n", Channel: "#c", Server: "a@b", Room: "!r:s"},
		"channel no hash":  {Network: "n", Channel: "c", Server: "s", Room: "!r:s"},
		"no room":          {Network: "n", Channel: "#c", Server: "s"},
		"channel too long": {Network: "n", Channel: "#" + strings.Repeat("c", 300), Server: "s", Room: "!r:s"},
	} {
		if _, err := NewConverter(Plain, "2021-01-01.log", o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The real corpus (irclogs.ubuntu.com days; the bundled sample's one day
// where the corpus is absent) is detected as plain logs and every line of every day is read.
func TestRealCorpus(t *testing.T) {
	dir, _, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "dev", "*.raw.txt"))
	if len(files) == 0 {
		t.Fatalf("no dev/*.raw.txt in %s", dir)
	}
	lines := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		raw := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
		sample := make([]string, 0, 60)
		for _, l := range raw[:min(len(raw), 60)] {
			sample = append(sample, Decode(l))
		}
		f, err := Detect(sample)
		if err != nil || f != Plain {
			t.Errorf("%s: detected %q, %v", filepath.Base(path), f, err)
			continue
		}
		c, err := NewConverter(f, path, testOpts)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range raw {
			lines++
			if _, err := c.Line(i+1, l); err != nil {
				t.Errorf("%s:%d: %v: %q", filepath.Base(path), i+1, err, l)
			}
		}
	}
	t.Logf("%d files, %d lines", len(files), lines)
}

// TestConvertAfterByteOrderMark: a log saved with a byte order mark
// before its first line converts as without it. The first line fit no
// known form; in irssi's format it is the dated "Log opened" line, so
// every line after failed for want of a date.
func TestConvertAfterByteOrderMark(t *testing.T) {
	evs, errs := convert(t, Limnoria, "x.log", testOpts,
		"\ufeff2021-08-17T19:00:24  <fungi> first line of the file",
		"2021-08-17T19:00:25  <fungi> second line")
	if len(errs) > 0 || len(evs) != 2 {
		t.Errorf("Limnoria: %d events, errors %v; want 2 events", len(evs), errs)
	}
	evs, errs = convert(t, Irssi, "irssi-opendev.log", testOpts,
		"\ufeff--- Log opened Tue Aug 17 19:00:00 2021",
		"19:00 <fungi> hello",
		"19:01 <clarkb> hi")
	if len(errs) > 0 || len(evs) != 2 {
		t.Errorf("irssi: %d events, errors %v; want 2 events", len(evs), errs)
	}
}

// TestConvertDayRevisited: a file that comes back to a day it left (logs
// concatenated out of order, a clock set back over midnight) gives a line
// at a time it already wrote there an ID of its own, as the same lines in
// order would get: the line took the earlier one's ID, and the import
// kept that one and reported the line as changed.
func TestConvertDayRevisited(t *testing.T) {
	back, errs := convert(t, Limnoria, "x.log", testOpts,
		"2021-08-17T23:59:59  <a> one",
		"2021-08-18T00:00:00  <b> two",
		"2021-08-17T23:59:59  <c> three")
	inOrder, errs2 := convert(t, Limnoria, "y.log", testOpts,
		"2021-08-17T23:59:59  <a> one",
		"2021-08-17T23:59:59  <c> three",
		"2021-08-18T00:00:00  <b> two")
	if len(errs)+len(errs2) > 0 || len(back) != 3 || len(inOrder) != 3 {
		t.Fatalf("%d and %d events, %v %v", len(back), len(inOrder), errs, errs2)
	}
	if back[0].ID == back[2].ID {
		t.Errorf("lines 1 and 3 share the ID %s", back[0].ID)
	}
	if back[0].ID != inOrder[0].ID || back[2].ID != inOrder[1].ID || back[1].ID != inOrder[2].ID {
		t.Errorf("IDs differ from the same lines in order: %s %s %s, %s %s %s", back[0].ID, back[1].ID, back[2].ID, inOrder[0].ID, inOrder[1].ID, inOrder[2].ID)
	}
	// Two overlapping logs joined into one file: the lines it comes back
	// with, in order, are the ones it had, with their IDs; the import
	// archives the overlap once.
	joined, errs := convert(t, Limnoria, "z.log", testOpts,
		"2021-08-17T23:59:59  <a> one",
		"2021-08-18T00:00:00  <b> two",
		"2021-08-17T23:59:59  <a> one",
		"2021-08-18T00:00:00  <b> two",
		"2021-08-18T00:00:00  <c> three")
	if len(errs) > 0 || len(joined) != 5 {
		t.Fatalf("%d events, %v", len(joined), errs)
	}
	if joined[2].ID != joined[0].ID || joined[3].ID != joined[1].ID || joined[4].ID == joined[1].ID {
		t.Errorf("joined logs' IDs: %s %s %s %s %s", joined[0].ID, joined[1].ID, joined[2].ID, joined[3].ID, joined[4].ID)
	}
}

// TestConvertThroughTheClocksGoingBack: a log in local time (--tz) goes on
// through the hour the clocks go back, which it writes twice: the lines
// of the second pass come after those of the first, and a line written
// at a time before the change is where it was. time.Date gives the
// earlier of a repeated time's instants, which put the lines after the
// change before those ahead of it.
func TestConvertThroughTheClocksGoingBack(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	opts := testOpts
	opts.Location = ny
	for name, tt := range map[string]struct {
		f     Format
		file  string
		lines []string
	}{
		"irssi": {Irssi, "irssi.log", []string{"--- Log opened Sun Nov 07 00:50:00 2021",
			"00:50 <a> before the hour", "01:40 <a> said in daylight time", "01:05 <b> said 25 minutes later, in standard time", "01:10 <c> and later", "02:00 <d> after"}},
		"znc": {ZNC, "2021-11-07.log", []string{"[00:50:00] <a> before the hour",
			"[01:40:00] <a> said in daylight time", "[01:05:00] <b> said 25 minutes later, in standard time", "[01:10:00] <c> and later", "[02:00:00] <d> after"}},
	} {
		t.Run(name, func(t *testing.T) {
			evs, errs := convert(t, tt.f, tt.file, opts, tt.lines...)
			if len(errs) > 0 || len(evs) != 5 {
				t.Fatalf("%d events, %v", len(evs), errs)
			}
			want := []time.Time{
				time.Date(2021, 11, 7, 4, 50, 0, 0, time.UTC), time.Date(2021, 11, 7, 5, 40, 0, 0, time.UTC),
				time.Date(2021, 11, 7, 6, 5, 0, 0, time.UTC), time.Date(2021, 11, 7, 6, 10, 0, 0, time.UTC),
				time.Date(2021, 11, 7, 7, 0, 0, 0, time.UTC),
			}
			for i, e := range evs {
				if got := time.UnixMilli(e.TS).UTC().Truncate(time.Second); !got.Equal(want[i]) {
					t.Errorf("line %d at %s, want %s", i+1, got, want[i])
				}
			}
		})
	}
	// Lines that share a time in the repeated hour's first pass stay in
	// it: each one's offset among them is not a step back.
	for name, tt := range map[string]struct {
		f     Format
		file  string
		lines []string
	}{
		"minutes": {Irssi, "irssi.log", []string{"--- Log opened Sun Nov 07 00:50:00 2021", "01:30 <a> one", "01:30 <b> two", "01:30 <c> three", "01:31 <d> four", "01:45 <e> five"}},
		"seconds": {ZNC, "2021-11-07.log", []string{"[01:30:00] <a> one", "[01:30:00] <b> two", "[01:30:00] <c> three", "[01:30:05] <d> four"}},
	} {
		t.Run(name, func(t *testing.T) {
			evs, errs := convert(t, tt.f, tt.file, opts, tt.lines...)
			if len(errs) > 0 || len(evs) != len(tt.lines)-strings.Count(tt.lines[0], "Log opened") {
				t.Fatalf("%d events, %v", len(evs), errs)
			}
			for i, e := range evs {
				if got := time.UnixMilli(e.TS).UTC(); got.Hour() != 5 {
					t.Errorf("line %d at %s, want in the first pass (05:xx UTC)", i+1, got)
				}
			}
		})
	}
}

// TestConverterKeepsNoLine: the ordinals a converter keeps for the days
// it has been at hold each time as written, not the line it came from:
// as a slice of the line, each distinct time kept its whole line (up to
// 64 KiB) alive for as long as its day's ordinals.
func TestConverterKeepsNoLine(t *testing.T) {
	c, err := NewConverter(Limnoria, "x.log", testOpts)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 60000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range 300 {
		line := fmt.Sprintf("2021-08-%02dT%02d:%02d:%02d  <a> %s", 1+i%2, i/3600, i/60%60, i%60, body)
		if _, err := c.Line(i+1, []byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 4<<20 {
		t.Errorf("300 lines of 60 KB: the converter keeps %d MB", grew>>20)
	}
	runtime.KeepAlive(c)
}

// TestConvertLineLateAcrossMidnightIsTheDayBefore: in a file that never
// says a day, a line relayed a few seconds late just after midnight
// (23:59:59, 00:00:01, then 23:59:58) is the day before's, and the line
// after it (00:00:05) the new day's again. Only a clock going back was
// read as a new day: the late line stayed on the new day, a day after its
// instant, and the next line, the clock going back again, was put a day
// later still. The day before is never before the file's first day
// (its name's), and a line more than an hour before the line above stays
// on its day (a quiet channel's 23:00 after 01:00, in
// TestConvertClockPastMidnightIsTheNextDay, is the new day's).
func TestConvertLineLateAcrossMidnightIsTheDayBefore(t *testing.T) {
	at := func(d, h, m, s int) time.Time { return time.Date(2021, 8, d, h, m, s, 0, time.UTC) }
	for name, tt := range map[string]struct {
		lines []string
		want  []time.Time
	}{
		"late relay after midnight": {[]string{"[23:59:59] <a> one", "[00:00:01] <b> two", "[23:59:58] <c> late relay", "[00:00:05] <a> three"},
			[]time.Time{at(17, 23, 59, 59), at(18, 0, 0, 1), at(17, 23, 59, 58), at(18, 0, 0, 5)}},
		"the reviewer's lines": {[]string{"[23:59:50] <a> a", "[00:00:02] <b> b", "[23:59:58] <c> late relay", "[00:00:05] <a> three"},
			[]time.Time{at(17, 23, 59, 50), at(18, 0, 0, 2), at(17, 23, 59, 58), at(18, 0, 0, 5)}},
		"an hour late": {[]string{"[23:29:00] <a> one", "[00:30:00] <b> two", "[23:30:00] <c> an hour late", "[00:31:00] <a> three"},
			[]time.Time{at(17, 23, 29, 0), at(18, 0, 30, 0), at(17, 23, 30, 0), at(18, 0, 31, 0)}},
		"more than an hour late stays": {[]string{"[23:00:00] <a> one", "[00:30:00] <b> two", "[23:29:59] <c> late", "[00:31:00] <a> three"},
			[]time.Time{at(17, 23, 0, 0), at(18, 0, 30, 0), at(18, 23, 29, 59), at(19, 0, 31, 0)}},
		"never before the first day": {[]string{"[00:00:05] <a> one", "[23:59:58] <b> late relay", "[00:00:07] <a> two"},
			[]time.Time{at(17, 0, 0, 5), at(17, 23, 59, 58), at(18, 0, 0, 7)}},
		"half a day on stays": {[]string{"[23:59:59] <a> one", "[00:00:01] <b> two", "[12:00:01] <c> noon"},
			[]time.Time{at(17, 23, 59, 59), at(18, 0, 0, 1), at(18, 12, 0, 1)}},
	} {
		t.Run(name, func(t *testing.T) {
			evs, errs := convert(t, ZNC, "2021-08-17.log", testOpts, tt.lines...)
			if len(errs) > 0 || len(evs) != len(tt.want) {
				t.Fatalf("%d events, want %d; errors %v", len(evs), len(tt.want), errs)
			}
			for i, e := range evs {
				if got := time.UnixMilli(e.TS).UTC().Truncate(time.Second); !got.Equal(tt.want[i]) {
					t.Errorf("line %d %q at %s, want %s", i+1, tt.lines[i], got.Format(time.RFC3339), tt.want[i].Format(time.RFC3339))
				}
				// The ID is the day's too: the day's own log gives the line it.
				if want := EventID(testOpts.Network, testOpts.Channel, tt.want[i].Format(time.DateTime), 0); e.ID != string(want) {
					t.Errorf("line %d: ID %s, want that of %s", i+1, e.ID, tt.want[i].Format(time.DateTime))
				}
			}
		})
	}
}

// TestConvertClockPastMidnightIsTheNextDay: in a file whose lines carry no
// date and that has no date lines, the day is the one its name or --date
// gives, and a clock that goes back by more than half a day (23:59:58,
// then 00:00:03) has passed midnight: the line is the next day's. A
// MeetBot log, "openstack_meeting.2021-08-17-23.30.log.txt" with
// "HH:MM:SS <nick>" lines, read as irssi, archived the lines after
// midnight at the start of the day the meeting began, before its
// #startmeeting, and reported nothing; a daily log named by its day did
// the same with a line written just after midnight. A smaller step back
// (a line out of order) stays on its day, and a file that says its days
// itself (irssi's date lines, dated lines) keeps the days it says.
func TestConvertClockPastMidnightIsTheNextDay(t *testing.T) {
	at := func(d, h, m, s int) time.Time { return time.Date(2021, 8, d, h, m, s, 0, time.UTC) }
	dateOpts := testOpts
	dateOpts.Date = time.Date(2021, 8, 17, 0, 0, 0, 0, time.UTC)
	for name, tt := range map[string]struct {
		f     Format
		file  string
		opts  Options
		clock string // the layout of the lines' times
		lines []string
		want  []time.Time
	}{
		"meetbot log named by its start": {Irssi, "openstack_meeting.2021-08-17-23.30.log.txt", testOpts, "15:04:05", []string{
			"23:30:02 <ttx> #startmeeting nova", "23:59:58 <ttx> #topic late item", "00:00:03 <bob> after midnight", "00:10:00 <ttx> #endmeeting"},
			[]time.Time{at(17, 23, 30, 2), at(17, 23, 59, 58), at(18, 0, 0, 3), at(18, 0, 10, 0)}},
		"daily znc log": {ZNC, "2021-08-17.log", testOpts, "15:04:05", []string{"[23:59:58] <a> late", "[00:00:03] <b> next day"},
			[]time.Time{at(17, 23, 59, 58), at(18, 0, 0, 3)}},
		"new year": {ZNC, "2021-12-31.log", testOpts, "15:04:05", []string{"[23:59:59] <a> late", "[00:00:01] <b> happy new year"},
			[]time.Time{time.Date(2021, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2022, 1, 1, 0, 0, 1, 0, time.UTC)}},
		"each night passed": {Plain, "channel.log", dateOpts, "15:04", []string{"[22:00] <a> one", "[01:00] <a> two", "[23:00] <a> three", "[02:00] <a> four"},
			[]time.Time{at(17, 22, 0, 0), at(18, 1, 0, 0), at(18, 23, 0, 0), at(19, 2, 0, 0)}},
		"a line out of order stays": {ZNC, "2021-08-17.log", testOpts, "15:04:05", []string{"[12:00:05] <a> one", "[11:58:00] <b> late relay", "[12:01:00] <a> two"},
			[]time.Time{at(17, 12, 0, 5), at(17, 11, 58, 0), at(17, 12, 1, 0)}},
		"half a day back stays": {ZNC, "2021-08-17.log", testOpts, "15:04:05", []string{"[23:00:00] <a> one", "[11:00:00] <b> two"},
			[]time.Time{at(17, 23, 0, 0), at(17, 11, 0, 0)}},
		"irssi day changed": {Irssi, "irssi.log", testOpts, "15:04", []string{
			"--- Log opened Tue Aug 17 23:00:00 2021", "23:59 <a> x", "--- Day changed Wed Aug 18 2021", "00:01 <a> y"},
			[]time.Time{at(17, 23, 59, 0), at(18, 0, 1, 0)}},
		// irssi writes a day line at every midnight: a night without one
		// is its clock set back, and the day stays what the log says.
		"irssi clock set back": {Irssi, "irssi.log", testOpts, "15:04", []string{
			"--- Log opened Tue Aug 17 23:00:00 2021", "23:59 <a> x", "00:01 <a> y"},
			[]time.Time{at(17, 23, 59, 0), at(17, 0, 1, 0)}},
	} {
		t.Run(name, func(t *testing.T) {
			if f, err := Detect(tt.lines); err != nil || f != tt.f {
				t.Fatalf("Detect = %s, %v; want %s", f, err, tt.f)
			}
			evs, errs := convert(t, tt.f, tt.file, tt.opts, tt.lines...)
			if len(errs) > 0 || len(evs) != len(tt.want) {
				t.Fatalf("%d events, want %d; errors %v", len(evs), len(tt.want), errs)
			}
			for i, e := range evs {
				if got := time.UnixMilli(e.TS).UTC().Truncate(time.Second); !got.Equal(tt.want[i]) {
					t.Errorf("event %d at %s, want %s", i+1, got.Format(time.RFC3339), tt.want[i].Format(time.RFC3339))
				}
				// The ID is the day's too: the same line in the next
				// day's own log has it.
				stamp := tt.want[i].Format(tt.clock)
				if want := EventID(testOpts.Network, testOpts.Channel, tt.want[i].Format(time.DateOnly)+" "+stamp, 0); e.ID != string(want) {
					t.Errorf("event %d: ID %s, want that of %s %s", i+1, e.ID, tt.want[i].Format(time.DateOnly), stamp)
				}
			}
		})
	}
}
