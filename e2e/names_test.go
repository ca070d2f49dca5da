package e2e_test

import (
	"testing"
	"time"
)

// A user withdraws the display name they set by redacting their member
// event on the homeserver (the Matrix way): the name is then gone from
// every route of the archive, including their messages, the reply excerpt
// quoting them and the state lines.
func TestWithdrawnDisplayNameIsGoneFromEveryRoute(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("names", "world_readable")
	w.inviteBot(room)
	b := w.bob
	named := b.SendState(t, room, "m.room.member", b.ID, map[string]any{"membership": "join", "displayname": "Zorblax"})
	said := b.Send(t, room, "m.room.message", text("hello from bob"))
	reply := w.alice.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text",
		"body":         "> <" + b.ID + "> hello from bob\n\nhi bob",
		"m.relates_to": map[string]any{"m.in_reply_to": map[string]any{"event_id": said}}})
	w.matchesHomeserver(room, 60*time.Second)
	srv := w.webServer(w.readerStore(), nil)
	slug := w.slugOf(w.st, room)
	expectPage(t, srv, "/room/"+slug+"/"+time.Now().UTC().Format("2006-01-02"), 200, "Zorblax")

	b.Redact(t, room, named, "withdrawing my name")
	w.matchesHomeserver(room, 60*time.Second)
	shownNowhere(t, srv, roomRoutes(slug, []string{named, said, reply}, nil), "Zorblax")
}
