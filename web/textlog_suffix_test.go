package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// When a name is shared ("Bob" by Bob and by anyone else), Bob's lines
// read "<Bob (@bob:example.org)>": Mallory named literally "Bob
// (@bob:example.org)" must not read so too, nor must two names the log
// writes alike ("<Carol>" and "‹Carol›") read as one speaker.
func TestTextLogNameCannotCopyAnotherSpeakersSuffix(t *testing.T) {
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		speakerNamed("$jb", "@bob:example.org", "Bob", ts),
		speakerSaid("$m1", "@bob:example.org", "m.text", "hello", ts+1),
		speakerNamed("$jc", "@bob2:example.org", "Bob", ts+2),
		speakerSaid("$m2", "@bob2:example.org", "m.text", "another Bob here", ts+3),
		speakerNamed("$jm", "@mallory:example.org", "Bob (@bob:example.org)", ts+4),
		speakerSaid("$m3", "@mallory:example.org", "m.text", "I resign", ts+5),
		// Two names the log writes alike: "<Carol>" is written "‹Carol›".
		speakerNamed("$je", "@eve:example.org", "<Carol>", ts+6),
		speakerSaid("$m4", "@eve:example.org", "m.text", "eve speaking", ts+7),
		speakerNamed("$jc2", "@carol:example.org", "‹Carol›", ts+8),
		speakerSaid("$m5", "@carol:example.org", "m.text", "carol speaking", ts+9),
	))
	rec := e.get(t, "/room/!x:example.org/2026-01-01.txt")
	if rec.Code != http.StatusOK {
		t.Fatalf("text log = %d", rec.Code)
	}
	log := rec.Body.String()
	for _, m := range saysLine.FindAllStringSubmatch(log, -1) {
		if m[1] == "Bob (@bob:example.org)" && m[2] != "hello" {
			t.Errorf("Mallory's line reads as Bob's: %q says %q\n%s", m[1], m[2], log)
		}
	}
	if !strings.Contains(log, "<Bob (@bob:example.org)> hello\n") {
		t.Fatalf("unexpected log:\n%s", log)
	}
	for _, want := range []string{"<‹Carol› (@eve:example.org)> eve speaking\n", "<‹Carol› (@carol:example.org)> carol speaking\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("two names written alike are not told apart: no %q in\n%s", want, log)
		}
	}
}
