package e2e_test

import (
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/pgtest"
)

// A room member puts U+0000 in a display name, a message, a reaction key,
// a topic and a redaction reason, through a real homeserver, into an
// archive on PostgreSQL (whose text refuses U+0000). The archive must keep
// matching the homeserver, the redaction included (it comes by /sync from
// Dendrite), and keep recording what follows.
func TestHostileStringsDoNotWedgeTheArchive(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	w := newWorld(t, "MXARCHIVE_DATABASE_TYPE=postgres", "MXARCHIVE_DATABASE_URI="+dsn)
	room := w.publicRoom("nul", "world_readable")
	w.inviteBot(room)
	a, b := w.alice, w.bob
	b.SendState(t, room, "m.room.member", "@bob:"+serverName, map[string]any{"membership": "join", "displayname": "B\x00b"})
	said := b.Send(t, room, "m.room.message", text("nul \x00 inside"))
	a.Send(t, room, "m.reaction", map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": said, "key": "\x00"}})
	a.SendState(t, room, "m.room.topic", "", map[string]any{"topic": "t\x00"})
	gone := a.Send(t, room, "m.room.message", text("to be redacted"))
	a.Redact(t, room, gone, "r\x00")
	after := a.Send(t, room, "m.room.message", text("after all that"))
	w.matchesHomeserver(room, 90*time.Second)
	got := w.archived(said, after)
	if got[said].SenderName != "B\uFFFDb" || len(got) != 2 {
		t.Errorf("archived %v; sender name %q", got, got[said].SenderName)
	}
}
