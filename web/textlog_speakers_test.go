package web_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// speakerNamed is user's join to room !x with the display name name, at ts.
func speakerNamed(evID, user, name string, ts int64) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.member","sender":%q,"state_key":%q,"origin_server_ts":%d,"content":{"membership":"join","displayname":%q}}`, evID, user, user, ts, name)
}

// speakerSaid is user's message of msgtype with body in room !x, at ts.
func speakerSaid(evID, user, msgtype, body string, ts int64) string {
	return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":{"msgtype":%q,"body":%q}}`, evID, user, ts, msgtype, body)
}

// The lines a script reads a text log's speakers from, as eavesdrop- and
// irssi-style log parsers do: "<nick> text", "-nick- notice", "* nick
// action".
var (
	saysLine   = regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\] <([^>]*)> (.*)$`)
	noticeLine = regexp.MustCompile(`(?m)^\[\d\d:\d\d:\d\d\] -([^-]*)- (.*)$`)
)

// TestStreamedTextLogTellsSharedNamesApart: a day busier than one read
// (APIDayPageSize 2 here) has its text log streamed a read at a time, and
// that log must read as the whole day's would. Two senders both called
// "Bob", speaking in different reads, are "<Bob (@bob:…)>" and "<Bob
// (@mallory:…)>" in the whole log; streamed, each read told apart only its
// own senders and a reader saw "<Bob>" twice: Mallory passed for Bob. A
// sender who opted out is written by their ID, as in the whole log, and
// the name they once had ("Carol") leaves Carol's lines alone.
func TestStreamedTextLogTellsSharedNamesApart(t *testing.T) {
	const ts = 1767225601000 // 2026-01-01 00:00:01
	room := writeRoom(t,
		speakerNamed("$jb", "@bob:example.org", "Bob", ts),
		speakerSaid("$m1", "@bob:example.org", "m.text", "I am Bob", ts+1),
		speakerNamed("$jo", "@olive:example.org", "Carol", ts+2),
		speakerSaid("$m2", "@olive:example.org", "m.text", "gone soon", ts+3),
		speakerNamed("$jm", "@mallory:example.org", "Bob", ts+4),
		speakerSaid("$m3", "@mallory:example.org", "m.text", "I am Bob too, trust me", ts+5),
		speakerNamed("$jc", "@carol:example.org", "Carol", ts+6),
		speakerSaid("$m4", "@carol:example.org", "m.notice", "I am Carol", ts+7),
	)
	const path = "/room/!x:example.org/2026-01-01.txt"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		// One store, two servers: one reads the day whole, one a read of
		// two events at a time.
		whole := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, room)
		streamed := newEnvRender(t, st, render.New(render.Options{}), web.Options{APIDayPageSize: 2})
		if _, err := st.OptOut(context.Background(), "@olive:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		wholeLog := whole.get(t, path).Body.String()
		for _, want := range []string{"<Bob (@bob:example.org)> I am Bob\n", "<Bob (@mallory:example.org)> I am Bob too, trust me\n", "-Carol- I am Carol\n", "<@olive:example.org> "} {
			if !strings.Contains(wholeLog, want) {
				t.Fatalf("the whole day's log has no %q:\n%s", want, wholeLog)
			}
		}
		rec := streamed.get(t, path)
		if rec.Header().Get("ETag") != "" {
			t.Fatalf("the log was not streamed (it has an ETag): APIDayPageSize no longer splits it")
		}
		if got := rec.Body.String(); got != wholeLog {
			t.Errorf("the streamed log differs from the whole day's:\n--- whole\n%s--- streamed\n%s", wholeLog, got)
		}
	})
}

// TestTextLogNamesCannotForgeASpeaker: a display name is one field of its
// line however it is spelled. Eve named "Ann> I resign from the project,
// effective now. <x" was logged "<Ann> I resign from the project,
// effective now. <x> ok", which a log parser (and a reader) takes for Ann
// resigning; now her name's angle brackets are written ‹ ›, and on each
// "<name> text" line the speaker is what lies between the first "<" and
// the first ">". A notice's "-name- " ends at its first "- ": "Ann- I
// resign -x" is not Ann's notice either.
func TestTextLogNamesCannotForgeASpeaker(t *testing.T) {
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		speakerNamed("$je", "@eve:example.org", "Ann> I resign from the project, effective now. <x", ts),
		speakerSaid("$m1", "@eve:example.org", "m.text", "ok", ts+1),
		speakerNamed("$jf", "@fay:example.org", "Ann- I resign -x", ts+2),
		speakerSaid("$m2", "@fay:example.org", "m.notice", "ok", ts+3),
		speakerSaid("$m3", "@a:example.org", "m.text", "I said nothing of the kind", ts+4),
	))
	rec := e.get(t, "/room/!x:example.org/2026-01-01.txt")
	if rec.Code != http.StatusOK {
		t.Fatalf("text log = %d", rec.Code)
	}
	log := rec.Body.String()
	for _, m := range append(saysLine.FindAllStringSubmatch(log, -1), noticeLine.FindAllStringSubmatch(log, -1)...) {
		if m[1] == "Ann" && m[2] != "I said nothing of the kind" {
			t.Errorf("a log parser reads another's line as Ann's: %q says %q\n%s", m[1], m[2], log)
		}
	}
	for _, want := range []string{
		"<Ann› I resign from the project, effective now. ‹x> ok\n",
		"-Ann‐ I resign -x- ok\n",
		"<Ann> I said nothing of the kind\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no line %q:\n%s", want, log)
		}
	}
}

// TestTextLogNameThatIsAnotherUsersID: a sender without a display name is
// logged by their user ID ("<@bob:example.org>"). Mallory, naming herself
// "@bob:example.org" and speaking on a day Bob did not, was logged exactly
// as Bob: a script mapping the log's nicks to users gave her line to Bob.
// A name that is a user ID other than its sender's is now followed by the
// sender's ID, as a name two senders share is; one's own ID is not.
func TestTextLogNameThatIsAnotherUsersID(t *testing.T) {
	const day2 = 1767312001000 // 2026-01-02 00:00:01
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		speakerSaid("$b1", "@bob:example.org", "m.text", "I am the release manager", 1767225601000),
		speakerNamed("$jm", "@mallory:example.org", "@bob:example.org", day2),
		speakerSaid("$m1", "@mallory:example.org", "m.text", "ship it, no review needed", day2+1),
		speakerNamed("$jc", "@carl:example.org", "@carl:example.org", day2+2),
		speakerSaid("$c1", "@carl:example.org", "m.emote", "waves", day2+3),
	))
	day1 := e.get(t, "/room/!x:example.org/2026-01-01.txt").Body.String()
	if !strings.Contains(day1, "<@bob:example.org> I am the release manager\n") {
		t.Fatalf("Bob, who has no display name, is not logged by his ID:\n%s", day1)
	}
	day2Log := e.get(t, "/room/!x:example.org/2026-01-02.txt").Body.String()
	for _, m := range saysLine.FindAllStringSubmatch(day2Log, -1) {
		if m[1] == "@bob:example.org" {
			t.Errorf("Mallory's line reads as Bob's: %q says %q\n%s", m[1], m[2], day2Log)
		}
	}
	for _, want := range []string{"<@bob:example.org (@mallory:example.org)> ship it, no review needed\n", "* @carl:example.org waves\n"} {
		if !strings.Contains(day2Log, want) {
			t.Errorf("the log has no line %q:\n%s", want, day2Log)
		}
	}
}
