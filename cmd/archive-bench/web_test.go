package main

import "testing"

// pageMessages counts what each kind of page shows as messages, not its
// state events, member changes or a message's continued lines.
func TestPageMessages(t *testing.T) {
	for _, tc := range []struct {
		kind, body string
		want       int
	}{
		{"day page", `<ol><li class="state" id="$a"></li><li class="msg text" id="$b"></li><li class="members"></li>` +
			`<li class="msg emote" id="$c"></li><li class="msg image" id="$d"></li></ol>`, 3},
		{"permalink", `<li class="msg text" id="$b">`, 1},
		{"JSON day", `{"events":[{"type":"m.room.member"},{"type":"m.room.message"},{"type":"m.room.message"},{"type":"m.reaction"}]}`, 2},
		{"JSON day", `not JSON`, 0},
		{"text log", "# #ubuntu on 2026-03-02 (UTC), from https://archive.example\n" +
			"[00:00:01] <alice> (joined)\n[00:01:00] <alice> hello\n[00:01:30] * bob waves\n[00:02:00] -bot- notice\n" +
			"[00:03:00] <alice> two\n    lines\n[00:04:00] <bob> (set the topic to \"x\")\n", 4},
	} {
		if got := pageMessages(tc.kind, []byte(tc.body)); got != tc.want {
			t.Errorf("%s %q: %d messages, want %d", tc.kind, tc.body, got, tc.want)
		}
	}
}
