package meeting

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// script turns "nick: text" lines into Lines a minute apart; "* nick text"
// is a /me line.
func script(ls ...string) []Line {
	var out []Line
	for i, s := range ls {
		l := Line{EventID: id.EventID(fmt.Sprintf("$%d", i)), TS: int64(i) * 60000, Command: true}
		if rest, ok := strings.CutPrefix(s, "* "); ok {
			nick, text, _ := strings.Cut(rest, " ")
			l.Name, l.Text, l.Command = nick, text, false
		} else {
			nick, text, _ := strings.Cut(s, ": ")
			l.Name, l.Text = nick, text
		}
		l.Sender = id.UserID("@" + strings.ToLower(l.Name) + ":example.org")
		out = append(out, l)
	}
	return out
}

// summary is a compact, comparable form of a meeting's minutes.
func summary(m Meeting) string {
	var b strings.Builder
	fmt.Fprintf(&b, "title=%q ended=%v lines=%d end=%s chairs=", m.Title, m.Ended, m.Lines, m.EndID)
	for i, c := range m.Chairs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(c.Name)
	}
	for _, s := range m.Sections {
		fmt.Fprintf(&b, " | T(%s)", s.Topic.Text)
		for _, it := range s.Items {
			fmt.Fprintf(&b, " %s:%s", it.Kind, it.Text)
		}
	}
	for _, a := range m.ByPerson {
		fmt.Fprintf(&b, " @%s=%d", a.Person.Name, len(a.Actions))
	}
	if len(m.Unassigned) > 0 {
		fmt.Fprintf(&b, " @?=%d", len(m.Unassigned))
	}
	return b.String()
}

func TestExtract(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  []string
	}{
		{"no meeting", []string{"ann: hello", "bob: #topic nothing"}, nil},
		{"basic", []string{
			"ann: hi", "ann: #startmeeting Weekly sync", "ann: #topic Release", "bob: #info tagged rc1",
			"ann: #agreed ship friday", "bob: #action bob writes notes", "ann: #endmeeting", "bob: #info after",
		}, []string{`title="Weekly sync" ended=true lines=6 end=$6 chairs=ann | T(Release) info:tagged rc1 agreed:ship friday action:bob writes notes @bob=1`}},
		{"commands any case, leading space", []string{
			"ann: #StartMeeting", "ann:   #TOPIC One", "bob: #Info x", "ann: #ENDMEETING",
		}, []string{`title="" ended=true lines=4 end=$3 chairs=ann | T(One) info:x`}},
		{"only chairs set topics, agree and end", []string{
			"ann: #startmeeting", "bob: #topic hijack", "bob: #agreed nope", "bob: #endmeeting", "bob: #idea fine", "ann: #endmeeting",
		}, []string{`title="" ended=true lines=6 end=$5 chairs=ann | T() idea:fine`}},
		{"chair then unchair, owner stays", []string{
			"bob: here", "ann: #startmeeting", "ann: #chair bob", "bob: #topic by bob", "bob: #unchair ann", "bob: #unchair bob",
			"bob: #topic not any more", "ann: #endmeeting",
		}, []string{`title="" ended=true lines=7 end=$7 chairs=ann | T(by bob)`}},
		{"chair a name before it speaks", []string{
			"ann: #startmeeting", "ann: #chair Carol, dave", "carol: #topic from carol", "carol: #endmeeting",
		}, []string{`title="" ended=true lines=4 end=$3 chairs=ann,carol,dave | T(from carol)`}},
		{"undo removes the last item, chairs only", []string{
			"ann: #startmeeting", "bob: #info keep", "bob: #info oops", "bob: #undo", "ann: #undo", "ann: #endmeeting",
		}, []string{`title="" ended=true lines=6 end=$5 chairs=ann | T() info:keep`}},
		{"meetingtopic and mootbot brackets", []string{
			"ann: #startmeeting", "ann: #meetingtopic Team", "ann: [TOPIC] old style", "bob: [ACTION] ann to review", "ann: #endmeeting",
		}, []string{`title="Team" ended=true lines=5 end=$4 chairs=ann | T(old style) action:ann to review @ann=1`}},
		{"bare URL is a link, emote is no command", []string{
			"ann: #startmeeting", "bob: https://example.org/x", "* bob #topic waves", "ann: #endmeeting",
		}, []string{`title="" ended=true lines=4 end=$3 chairs=ann | T() link:https://example.org/x`}},
		{"empty item ignored", []string{"ann: #startmeeting", "bob: #info", "ann: #endmeeting"},
			[]string{`title="" ended=true lines=3 end=$2 chairs=ann`}},
		{"actions by person and unassigned", []string{
			"ann: #startmeeting", "bob: hi", "carol_: hi", "ann: #action Bob and carol_ fix it", "ann: #action someone documents",
			"ann: #action bobby does it", "ann: #endmeeting",
		}, []string{`title="" ended=true lines=7 end=$6 chairs=ann | T() action:Bob and carol_ fix it action:someone documents action:bobby does it @bob=1 @carol_=1 @?=2`}},
		{"second startmeeting inside is a line", []string{
			"ann: #startmeeting A", "bob: #startmeeting B", "ann: #endmeeting", "bob: #startmeeting C", "bob: #endmeeting",
		}, []string{`title="A" ended=true lines=3 end=$2 chairs=ann`, `title="C" ended=true lines=2 end=$4 chairs=bob`}},
		{"only the first line holds a command", []string{"ann: #startmeeting", "bob: text\n#info no", "ann: #endmeeting"},
			[]string{`title="" ended=true lines=3 end=$2 chairs=ann`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, m := range Extract(script(tt.lines...)) {
				got = append(got, summary(m))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestUnendedMeeting(t *testing.T) {
	ls := script("ann: #startmeeting", "bob: #info a", "bob: later", "ann: #startmeeting next", "ann: #endmeeting")
	// Two hours and a minute of silence after "later".
	for i := 3; i < len(ls); i++ {
		ls[i].TS += Silence + 60000
	}
	ms := Extract(ls)
	if len(ms) != 2 {
		t.Fatalf("got %d meetings, want 2", len(ms))
	}
	if m := ms[0]; m.Ended || m.EndID != "$2" || m.Lines != 3 {
		t.Errorf("unended meeting: ended=%v end=%s lines=%d, want cut at $2 after 3 lines", m.Ended, m.EndID, m.Lines)
	}
	if m := ms[1]; !m.Ended || m.Title != "next" {
		t.Errorf("next meeting: %s", summary(m))
	}

	// The 24-hour cap holds even when nobody is ever silent long.
	var long []Line
	for i := 0; i < 30*60; i++ { // a line a minute for 30 hours
		long = append(long, Line{EventID: id.EventID(fmt.Sprintf("$%d", i)), Sender: "@a:x", Name: "a", TS: int64(i) * 60000, Text: "chatter", Command: true})
	}
	long[0].Text = "#startmeeting"
	m, ok := At(long, "$0")
	if !ok || m.Ended || m.End-m.Start > MaxDuration {
		t.Errorf("capped meeting: ok=%v ended=%v length=%d ms", ok, m.Ended, m.End-m.Start)
	}
}

func TestAt(t *testing.T) {
	ls := script("ann: hi", "ann: #startmeeting X", "ann: #endmeeting")
	if _, ok := At(ls, "$0"); ok {
		t.Error("At a line that starts no meeting: ok")
	}
	if m, ok := At(ls, "$1"); !ok || m.ID != "$1" || m.Title != "X" {
		t.Errorf("At($1) = %v, %v", m.ID, ok)
	}
}

// A room member cannot take a chair by using the chair's display name: a
// chair is a sender, not a name.
func TestChairIsASender(t *testing.T) {
	ls := script("ann: #startmeeting", "ann: #endmeeting")
	impostor := ls[1]
	impostor.Sender, impostor.EventID = "@mallory:example.org", "$evil"
	ls = []Line{ls[0], impostor, ls[1]}
	m := Extract(ls)[0]
	if m.EndID != "$1" {
		t.Errorf("the impostor ended the meeting: end=%s", m.EndID)
	}
}

// TestStartsAsCommand holds Starts, which skips command for lines that
// cannot start a meeting, to command's own answer on lines around the
// edges of its parsing: leading space of every kind, case, Unicode whose
// lowercase differs in length, other commands, MootBot and URLs.
func TestStartsAsCommand(t *testing.T) {
	var texts []string
	for _, lead := range []string{"", " ", "\t", "\n", "\u00a0", "\u3000", " \r\n "} {
		for _, body := range []string{
			"#startmeeting", "#startmeeting infra", "#STARTMEETING", "#StartMeeting x", "#startmeeting\tinfra",
			"#startmeeting\ninfra", "#startmeetingx", "#startmeetin", "#endmeeting", "# startmeeting",
			"#ſtartmeeting", "#\u0130startmeeting", "#startmeeting\u00a0x", "[startmeeting]", "[STARTMEETING] x",
			"http://example.org/#startmeeting", "startmeeting", "#", "", "x #startmeeting",
		} {
			texts = append(texts, lead+body)
		}
	}
	for _, text := range texts {
		for _, cmd := range []bool{true, false} {
			l := Line{Text: text, Command: cmd}
			want := false
			if c, _ := command(l); c == "startmeeting" {
				want = true
			}
			if got := Starts(l); got != want {
				t.Errorf("Starts(%q, command %v) = %v, command says %v", text, cmd, got, want)
			}
		}
	}
	if !Starts(Line{Text: " #StartMeeting infra", Command: true}) || Starts(Line{Text: "#startmeeting", Command: false}) {
		t.Error("Starts does not tell a #startmeeting from a /me line")
	}
}

// TestCommandsAreASCII: a command word is matched in ASCII, as the
// store's filter of starts matches it: a letter whose Unicode lowercase is
// an ASCII one makes no command.
func TestCommandsAreASCII(t *testing.T) {
	for text, want := range map[string]string{
		"#STARTMEETING x": "startmeeting", "#StartMeeting": "startmeeting", "[ACTION] ann": "action", "#LINK x": "link",
		"#STARTMEET\u0130NG x": "startmeet\u0130ng", "#LIN\u212a x": "lin\u212a", "[\u212aEYWORD] x": "\u212aeyword",
	} {
		if cmd, _ := command(Line{Text: text, Command: true}); cmd != want {
			t.Errorf("command(%q) = %q, want %q", text, cmd, want)
		}
	}
	if Starts(Line{Text: "#STARTMEET\u0130NG", Command: true}) {
		t.Error("#STARTMEET\u0130NG starts a meeting")
	}
}

// TestAssignedIsBounded: actions are listed under the people they name
// up to MaxAssigned entries in all, and then no more, the same ones each
// time: 2,000 actions naming each of 60 people made minutes of 120,000
// entries (60 MB of HTML).
func TestAssignedIsBounded(t *testing.T) {
	ls := []string{"ann: #startmeeting big"}
	var everyone []string
	for i := range 60 {
		ls = append(ls, fmt.Sprintf("u%d: here", i))
		everyone = append(everyone, fmt.Sprintf("u%d", i))
	}
	const actions = 100
	for i := range actions {
		ls = append(ls, fmt.Sprintf("ann: #action %d %s", i, strings.Join(everyone, " ")))
	}
	ls = append(ls, "ann: #endmeeting")
	m, ok := At(script(ls...), "$0")
	if !ok || len(m.Actions) != actions {
		t.Fatalf("At: %v, %d actions", ok, len(m.Actions))
	}
	listed := func(m Meeting) (n int, first string) {
		for _, p := range m.ByPerson {
			n += len(p.Actions)
		}
		return n, m.ByPerson[0].Person.Name
	}
	n, first := listed(m)
	if n != MaxAssigned || !m.AssignedCapped {
		t.Errorf("%d actions listed by person (capped %v), want %d", n, m.AssignedCapped, MaxAssigned)
	}
	again, _ := At(script(ls...), "$0")
	if n2, first2 := listed(again); n2 != n || first2 != first || len(again.ByPerson) != len(m.ByPerson) {
		t.Errorf("another computation lists %d under %d people from %s, not %d under %d from %s", n2, len(again.ByPerson), first2, n, len(m.ByPerson), first)
	}
}

// TestChairByASharedName: "#chair Bob", when two senders have spoken as
// "Bob" (a display name is anyone's to take), chairs neither: the first
// to speak under it was chaired, and took the #topic, #agreed and
// #endmeeting meant for the real Bob. A user ID chairs its sender.
func TestChairByASharedName(t *testing.T) {
	ls := script("alice: #startmeeting", "bob: hi", "bob: hello", "alice: #chair Bob",
		"bob: #topic mallory's topic", "bob: #topic bob's topic", "alice: #chair @bob:example.org", "bob: #topic bob's second topic", "alice: #endmeeting")
	ls[1].Sender, ls[4].Sender = "@mallory:example.org", "@mallory:example.org" // mallory, named Bob
	m := Extract(ls)[0]
	var topics []string
	for _, s := range m.Sections {
		if s.Topic.EventID != "" {
			topics = append(topics, s.Topic.Text)
		}
	}
	if strings.Join(topics, "|") != "bob's second topic" {
		t.Errorf("topics %q: want only the real Bob's, once chaired by his ID", topics)
	}
	for _, c := range m.Chairs {
		if c.Sender == "@mallory:example.org" {
			t.Error("mallory, named Bob, is a chair")
		}
	}
}

// TestPendingChairNotTakenByAnImpostor: "#chair Bob" said before Bob
// spoke (on the web always: a meeting's lines begin at its #startmeeting)
// chairs the one sender who goes by Bob until the meeting is over. A
// member who spoke first as "Bob" (a display name, or @bob on a server of
// its own) while the real Bob spoke after took the chair, its #topic was
// in the minutes, its #endmeeting ended the meeting and the chair's
// #agreed after it was lost.
func TestPendingChairNotTakenByAnImpostor(t *testing.T) {
	for name, mallory := range map[string]Line{
		"display name":                {Sender: "@mallory:evil.example", Name: "Bob"},
		"localpart on another server": {Sender: "@bob:evil.example", Name: "Mallory"},
	} {
		t.Run(name, func(t *testing.T) {
			ls := script("alice: #startmeeting Release", "alice: #chair Bob",
				"mallory: #topic mallory's topic", "bob: hi, here", "mallory: #endmeeting",
				"alice: #agreed ship on friday", "alice: #endmeeting")
			for _, i := range []int{2, 4} {
				ls[i].Sender, ls[i].Name = mallory.Sender, mallory.Name
			}
			ls[3].Sender, ls[3].Name = "@bob:example.org", "Bob"
			m, ok := At(ls, ls[0].EventID)
			if !ok {
				t.Fatal("no meeting")
			}
			for _, c := range m.Chairs {
				if c.Sender == mallory.Sender {
					t.Errorf("%s took the chair meant for Bob", mallory.Sender)
				}
			}
			if got := summary(m); m.EndID != ls[6].EventID || !strings.Contains(got, "agreed:ship on friday") || strings.Contains(got, "mallory's topic") {
				t.Errorf("ended at %s: %s", m.EndID, got)
			}
		})
	}
	// A member who goes by the name after the chaired Bob ended the
	// meeting takes nothing away from it.
	ls := script("alice: #startmeeting Release", "alice: #chair Bob",
		"bob: #topic bob's topic", "bob: #endmeeting", "mallory: hello everyone")
	ls[4].Name = "Bob"
	if m, _ := At(ls, ls[0].EventID); m.EndID != ls[3].EventID || !strings.Contains(summary(m), "bob's topic") {
		t.Errorf("a line after the meeting ended took Bob's chair: ended at %s, %s", m.EndID, summary(m))
	}
	// With no other Bob, the one who speaks is chaired.
	ls = script("alice: #startmeeting", "alice: #chair Bob", "bob: #topic bob's topic", "bob: #endmeeting", "alice: #info after")
	ls[2].Sender, ls[3].Sender = "@robert:example.org", "@robert:example.org"
	ls[2].Name, ls[3].Name = "Bob", "Bob"
	if m, _ := At(ls, ls[0].EventID); m.EndID != ls[3].EventID || !strings.Contains(summary(m), "bob's topic") {
		t.Errorf("Bob not chaired: ended at %s, %s", m.EndID, summary(m))
	}
}

// TestSharedNamesToldApart: where two people of a meeting went by one
// name, the minutes follow it with each one's user ID, in items, people
// and chairs alike; a name one person used is left as it is.
func TestSharedNamesToldApart(t *testing.T) {
	ls := script("alice: #startmeeting", "bob: #info the real one", "bob: #info the other one", "alice: #chair @bob:example.org", "alice: #endmeeting")
	ls[2].Sender = "@mallory:example.org" // mallory, named bob
	m := Extract(ls)[0]
	var items []string
	for _, s := range m.Sections {
		for _, it := range s.Items {
			items = append(items, it.Name+": "+it.Text)
		}
	}
	if want := "bob (@bob:example.org): the real one|bob (@mallory:example.org): the other one"; strings.Join(items, "|") != want {
		t.Errorf("items %q, want %q", items, want)
	}
	var people, chairs []string
	for _, p := range m.People {
		people = append(people, p.Name)
	}
	for _, c := range m.Chairs {
		chairs = append(chairs, c.Name)
	}
	if !slices.Contains(people, "bob (@mallory:example.org)") || !slices.Contains(people, "alice") || strings.Join(chairs, "|") != "alice|bob (@bob:example.org)" {
		t.Errorf("people %q, chairs %q", people, chairs)
	}
}

// TestNickAndChairMakeAttendees: MeetBot's "#nick NAME" (anyone's, "make
// meetbot aware of a nick which hasn't said anything") and "#chair NAME"
// make NAME an attendee with 0 lines, so an #action naming them is listed
// under them in "Action items, by person" and they are among the people
// present. The archive's minutes filed such an action as UNASSIGNED and
// left them out of the people present.
func TestNickAndChairMakeAttendees(t *testing.T) {
	for _, cmd := range []string{"#nick alice", "#chair alice", "#nick alice, carol", "#nick Alice alice"} {
		t.Run(cmd, func(t *testing.T) {
			m, ok := At(script(
				"bob: #startmeeting weekly",
				"bob: "+cmd,
				"bob: #action alice to send the release notes",
				"bob: #endmeeting",
			), "$0")
			if !ok {
				t.Fatal("no meeting")
			}
			var by []string
			for _, p := range m.ByPerson {
				by = append(by, fmt.Sprintf("%s=%d", p.Person.Name, len(p.Actions)))
			}
			var people []string
			for _, p := range m.People {
				people = append(people, fmt.Sprintf("%s(%d)", p.Name, p.Lines))
			}
			if got := strings.Join(by, " "); !strings.EqualFold(got, "alice=1") || len(m.Unassigned) != 0 {
				t.Errorf("action items by person %q, %d unassigned; want alice's action listed under her", got, len(m.Unassigned))
			}
			if got := strings.Join(people, " "); !strings.HasPrefix(strings.ToLower(got), "bob(4) alice(0)") {
				t.Errorf("people present %q; want bob (4) and alice (0), named, after those who spoke", got)
			}
		})
	}
	// A name that speaks is one attendee, by its lines; one said before
	// the meeting is its sender's.
	m, _ := At(script(
		"carol: hello",
		"bob: #startmeeting weekly",
		"bob: #nick alice carol",
		"alice: here",
		"bob: #endmeeting",
	), "$1")
	var people []string
	for _, p := range m.People {
		people = append(people, fmt.Sprintf("%s %s(%d)", p.Sender, p.Name, p.Lines))
	}
	if got, want := strings.Join(people, ", "), "@bob:example.org bob(3), @alice:example.org alice(1), @carol:example.org carol(0)"; got != want {
		t.Errorf("people present %q, want %q", got, want)
	}
}

// TestMeetingNameKeepsTheTitle: in MeetBot the minutes' title is the
// meeting topic (#startmeeting's argument, or #meetingtopic's);
// #meetingname only names the files the minutes are saved under. Fedora's
// meetings open with "#startmeeting Fedora QA meeting" then "#meetingname
// fedora-qa": the archive's minutes, list and text minutes called the
// meeting "fedora-qa". "#meetingtopic none" (or "unset") clears the
// topic, where the archive titled the meeting "none".
func TestMeetingNameKeepsTheTitle(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"meetingname", []string{"adamw: #startmeeting Fedora QA meeting", "adamw: #meetingname fedora-qa", "adamw: #endmeeting"}, "Fedora QA meeting"},
		{"meetingtopic", []string{"adamw: #startmeeting Fedora QA meeting", "adamw: #meetingtopic QA", "adamw: #endmeeting"}, "QA"},
		{"meetingtopic none", []string{"adamw: #startmeeting Fedora QA meeting", "adamw: #meetingtopic none", "adamw: #endmeeting"}, ""},
		{"meetingtopic unset", []string{"adamw: #startmeeting Fedora QA meeting", "adamw: #meetingtopic UNSET", "adamw: #endmeeting"}, ""},
		{"meetingtopic alone", []string{"adamw: #startmeeting Fedora QA meeting", "adamw: #meetingtopic", "adamw: #endmeeting"}, ""},
		{"startmeeting none", []string{"adamw: #startmeeting none", "adamw: #endmeeting"}, ""},
		{"meetingtopic by a non-chair", []string{"adamw: #startmeeting Fedora QA meeting", "kparal: #meetingtopic mine", "adamw: #endmeeting"}, "Fedora QA meeting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := At(script(tt.lines...), "$0")
			if !ok {
				t.Fatal("no meeting")
			}
			if m.Title != tt.want {
				t.Errorf("title %q, want %q", m.Title, tt.want)
			}
		})
	}
}

// TestRejectedIsNotAgreed: MeetBot has three kinds of decision, AGREED
// (#agreed, #agree), ACCEPTED (#accepted, #accept) and REJECTED
// (#rejected, #reject), and its minutes say "* REJECTED: text". The
// archive filed a #rejected line as agreed, with "REJECTED: " before its
// text, so the minutes, the text minutes ("* AGREED: REJECTED: text") and
// the JSON API (kind "agreed") listed a proposal the meeting rejected
// among what it agreed.
func TestRejectedIsNotAgreed(t *testing.T) {
	m, ok := At(script(
		"fungi: #startmeeting infra",
		"fungi: #agreed keep Tuesdays",
		"fungi: #accept the new agenda",
		"fungi: #REJECTED move the meeting to Fridays",
		"fungi: #reject move it to Sundays",
		"clarkb: #rejected everything",
		"fungi: #endmeeting",
	), "$0")
	if !ok {
		t.Fatal("no meeting")
	}
	var got []string
	for _, s := range m.Sections {
		for _, it := range s.Items {
			got = append(got, fmt.Sprintf("%s:%s", it.Kind, it.Text))
		}
	}
	want := "agreed:keep Tuesdays, accepted:the new agenda, rejected:move the meeting to Fridays, rejected:move it to Sundays"
	if strings.Join(got, ", ") != want {
		t.Errorf("items %q;\nwant %q (chairs only, each of its own kind)", strings.Join(got, ", "), want)
	}
}

// TestChairsWhoSaidNothingAreChairs: "#chair alice" for someone who says
// nothing in the meeting made her an attendee but not a chair, so the
// minutes' chairs left out a name the meeting chaired (MeetBot's list of
// chairs holds every name #chair gave). A name #unchair took back, or one
// two senders went by, is no chair.
func TestChairsWhoSaidNothingAreChairs(t *testing.T) {
	for _, c := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"never spoke", []string{"bob: #startmeeting weekly", "bob: #chair alice", "bob: #endmeeting"}, " bob, alice"},
		{"spoke before", []string{"alice: hello", "bob: #startmeeting weekly", "bob: #chair alice", "bob: #endmeeting"}, " bob, @alice:example.org alice"},
		{"spoke in it", []string{"bob: #startmeeting weekly", "bob: #chair alice", "alice: here", "bob: #endmeeting"}, " bob, @alice:example.org alice"},
		{"unchaired", []string{"bob: #startmeeting weekly", "bob: #chair alice carol", "bob: #unchair alice", "bob: #endmeeting"}, " bob, carol"},
		{"not the owner twice", []string{"bob: #startmeeting weekly", "bob: #chair bob", "bob: #endmeeting"}, " bob"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lines := script(c.lines...)
			var start id.EventID
			for _, l := range lines {
				if strings.Contains(l.Text, "#startmeeting") {
					start = l.EventID
				}
			}
			m, ok := At(lines, start)
			if !ok {
				t.Fatal("no meeting")
			}
			var chairs []string
			for _, p := range m.Chairs {
				if p.Name == "bob" && p.Sender == "@bob:example.org" {
					chairs = append(chairs, " bob")
					continue
				}
				chairs = append(chairs, strings.TrimSpace(string(p.Sender)+" "+p.Name))
			}
			if got := strings.Join(chairs, ", "); got != c.want {
				t.Errorf("chairs %q; want %q", got, c.want)
			}
		})
	}
}

// TestUnchairTakesBackWhatChairGave: the owner chairs Mallory by name, then
// takes the chair back with "#unchair mallory". Before that, Mallory had a
// second account (on her own server) say a line under the display name
// "mallory": the name was two senders' by then, and #unchair, which looked
// the name up again, found nobody, so the chair stayed hers; she ended the
// meeting early and filed an #agreed item the chairs never agreed
// (helper-106). #unchair takes the chair back from whom #chair gave it.
func TestUnchairTakesBackWhatChairGave(t *testing.T) {
	line := func(i int, sender, name, text string) Line {
		return Line{EventID: id.EventID("$" + string(rune('a'+i))), Sender: id.UserID(sender), Name: name, TS: int64(i) * 60000, Text: text, Command: true}
	}
	lines := []Line{
		line(0, "@mallory:evil.example", "mallory", "hi all"),
		line(1, "@ann:example.org", "Ann", "#startmeeting weekly"),
		line(2, "@ann:example.org", "Ann", "#chair mallory"),
		line(3, "@sock:evil2.example", "mallory", "just a line"),
		line(4, "@ann:example.org", "Ann", "#unchair mallory"),
		line(5, "@mallory:evil.example", "mallory", "#agreed we drop the security review"),
		line(6, "@mallory:evil.example", "mallory", "#endmeeting"),
		line(7, "@ann:example.org", "Ann", "#topic security review"),
		line(8, "@ann:example.org", "Ann", "#endmeeting"),
	}
	m, ok := At(lines, "$b")
	if !ok {
		t.Fatal("no meeting")
	}
	for _, c := range m.Chairs {
		if c.Sender == "@mallory:evil.example" {
			t.Errorf("chairs at the end %+v still hold @mallory:evil.example after \"#unchair mallory\"", m.Chairs)
		}
	}
	if m.EndID != "$i" {
		t.Errorf("meeting ended at %s by the unchaired @mallory; want it to run to Ann's #endmeeting ($i)", m.EndID)
	}
	for _, s := range m.Sections {
		for _, it := range s.Items {
			if it.Kind == Agreed {
				t.Errorf("minutes hold an #agreed item %q from the unchaired @mallory", it.Text)
			}
		}
	}
}
