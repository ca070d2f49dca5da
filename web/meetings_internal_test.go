package web

import (
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/meeting"
	"github.com/mxarchive/mxarchive/store"
)

// TestTextMinutesSayRejected: the text minutes of a meeting whose chair
// said "#rejected X" listed "* AGREED: REJECTED: X" where MeetBot's .txt
// minutes say "* REJECTED: X"; a script collecting the "AGREED:" lines of
// the minutes took the rejection for an agreement. #accepted is MeetBot's
// ACCEPTED, not AGREED, too.
func TestTextMinutesSayRejected(t *testing.T) {
	lines := []meeting.Line{
		{EventID: "$0", Sender: "@fungi:example.org", Name: "fungi", TS: 0, Text: "#startmeeting infra", Command: true},
		{EventID: "$1", Sender: "@fungi:example.org", Name: "fungi", TS: 60000, Text: "#rejected move the meeting to Fridays", Command: true},
		{EventID: "$2", Sender: "@fungi:example.org", Name: "fungi", TS: 90000, Text: "#accepted the new agenda", Command: true},
		{EventID: "$3", Sender: "@fungi:example.org", Name: "fungi", TS: 120000, Text: "#endmeeting", Command: true},
	}
	m, ok := meeting.At(lines, "$0")
	if !ok {
		t.Fatal("no meeting")
	}
	txt := meetingText(store.Room{ID: "!x:example.org", Name: "#opendev"}, &m, func(s string) string { return "https://archive.test" + s })
	if strings.Contains(txt, "AGREED") || !strings.Contains(txt, "* REJECTED: move the meeting to Fridays") ||
		!strings.Contains(txt, "* ACCEPTED: the new agenda") {
		t.Errorf("text minutes:\n%s\nwant the items as MeetBot writes them, \"* REJECTED: move the meeting to Fridays\" and \"* ACCEPTED: the new agenda\", none under AGREED", txt)
	}
}
