package meeting

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/corpus"
	"github.com/mxarchive/mxarchive/irclog"
)

// corpusLines reads a real #ubuntu-meeting log ("channel YYYY-MM-DD
// [HH:MM] <nick> text") through irclog's reader of the plain format, as
// `archiver import` would.
func corpusLines(t *testing.T, name string) []Line {
	t.Helper()
	dir, _, err := corpus.Dir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "new-domains", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Line
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		fields := strings.SplitN(sc.Text(), " ", 3)
		if len(fields) < 3 {
			continue
		}
		day, err := time.Parse("2006-01-02", fields[1])
		if err != nil {
			t.Fatalf("%s:%d: %v", name, n, err)
		}
		l := irclog.Parse(irclog.Plain, strings.TrimRight(fields[2], " "))
		if l.Kind != irclog.KindMessage && l.Kind != irclog.KindAction {
			continue
		}
		ts := day.Add(time.Duration(l.Hour)*time.Hour + time.Duration(l.Minute)*time.Minute).UnixMilli()
		out = append(out, Line{
			EventID: id.EventID(fmt.Sprintf("$%s-%d", name, n)), Sender: id.UserID("@irc_" + strings.ToLower(l.Nick) + ":example.org"),
			Name: l.Nick, TS: ts, Text: l.Text, Command: l.Kind == irclog.KindMessage,
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCorpusMeetings(t *testing.T) {
	ms := Extract(corpusLines(t, "ubuntu-meeting.0.ascii.txt"))
	var starts []string
	for _, m := range ms {
		starts = append(starts, m.Owner.Name)
	}
	// "!startmeeting" and "I think it's #startmeeting" start nothing.
	if got, want := strings.Join(starts, ","), "diwic,stgraber,NCommander,bjf,SpamapS"; got != want {
		t.Fatalf("meetings started by %s, want %s", got, want)
	}
	for _, m := range ms {
		t.Logf("%s %s: %d lines, %d topics, %d actions, ended=%v", time.UnixMilli(m.Start).UTC().Format(time.DateTime), m.Owner.Name, m.Lines, m.Topics(), len(m.Actions), m.Ended)
	}

	audio := ms[0]
	if !audio.Ended || audio.Topics() != 5 || audio.Sections[0].Topic.Text != "pulseaudio - master or stable-queue" {
		t.Errorf("audio meeting: ended=%v topics=%d first=%q", audio.Ended, audio.Topics(), audio.Sections[0].Topic.Text)
	}
	// MootBot's own echo ("New Topic: …") is a line, not a second topic.
	if got := audio.Sections[1].Topic.Text; got != "pulseaudio - master or stable-queue?" {
		t.Errorf("second topic %q", got)
	}

	dmb := ms[1]
	if len(dmb.Actions) != 3 {
		t.Fatalf("DMB meeting: %d actions, want 3", len(dmb.Actions))
	}
	byName := map[string]int{}
	for _, a := range dmb.ByPerson {
		byName[a.Person.Name] = len(a.Actions)
	}
	if byName["persia"] != 2 {
		t.Errorf("persia's actions: %d, want 2 (by person: %v)", byName["persia"], byName)
	}
	if dmb.People[0].Lines < dmb.People[len(dmb.People)-1].Lines {
		t.Error("people not by lines said")
	}
	// The 5th meeting's log ends before its #endmeeting.
	if ms[4].Ended {
		t.Error("SpamapS's meeting, cut off by the log's end, counts as ended")
	}
	total := 0
	for _, p := range dmb.People {
		total += p.Lines
	}
	if total != dmb.Lines {
		t.Errorf("people's lines sum to %d, the meeting has %d", total, dmb.Lines)
	}
}

func TestCorpusMeetingsOtherDay(t *testing.T) {
	ms := Extract(corpusLines(t, "ubuntu-meeting.1.ascii.txt"))
	if len(ms) != 4 {
		t.Fatalf("%d meetings, want 4", len(ms))
	}
	// mdz's meeting was never ended in the log: it ends at its last line.
	if last := ms[3]; last.Owner.Name != "mdz" || last.Ended {
		t.Errorf("last meeting: owner %s ended=%v", last.Owner.Name, last.Ended)
	}
	arm := ms[1]
	if arm.Owner.Name != "ogra" || !arm.Ended || len(arm.Actions) != 4 {
		t.Errorf("ARM meeting: owner %s ended=%v actions=%d", arm.Owner.Name, arm.Ended, len(arm.Actions))
	}
	if len(Extract(corpusLines(t, "ubuntu-meeting.2.ascii.txt"))) != 0 {
		t.Error("meetings found in a log that holds none")
	}
}
