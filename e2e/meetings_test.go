package e2e_test

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// A meeting held in a Matrix room with meetbot's commands has minutes on
// the archive: chairs, topics, an edited #info shown as edited, action
// items by person, the text form and the API. When the sender redacts
// their #action on the homeserver, it vanishes from every form of the
// minutes.
func TestMeetingInAMatrixRoom(t *testing.T) {
	w := newWorld(t)
	room := w.publicRoom("meeting", "world_readable")
	w.inviteBot(room)
	a, b := w.alice, w.bob
	bobNick := strings.TrimPrefix(strings.SplitN(b.ID, ":", 2)[0], "@")
	start := a.Send(t, room, "m.room.message", text("#startmeeting Matrix sync"))
	a.Send(t, room, "m.room.message", text("#chair "+b.ID))
	b.Send(t, room, "m.room.message", text("#topic Homeserver upgrade"))
	info := b.Send(t, room, "m.room.message", text("#info draft wordfirst"))
	b.Send(t, room, "m.room.message", map[string]any{"msgtype": "m.text", "body": "* #info final wordsecond",
		"m.new_content": text("#info final wordsecond"),
		"m.relates_to":  map[string]any{"rel_type": "m.replace", "event_id": info}})
	action := b.Send(t, room, "m.room.message", text("#action "+bobNick+" files the zorbticket"))
	a.Send(t, room, "m.room.message", text("#action alice reviews"))
	b.Send(t, room, "m.room.message", text("#EndMeeting"))
	a.Send(t, room, "m.room.message", text("#info after the end"))
	w.matchesHomeserver(room, 60*time.Second)

	srv := w.webServer(w.readerStore(), nil)
	slug := w.slugOf(w.st, room)
	minutes := "/room/" + slug + "/meeting/" + url.PathEscape(start)
	// Pages write the room part unescaped: compare the rest of the links.
	expectPage(t, srv, "/room/"+slug+"/meetings", 200, "Matrix sync", "/meeting/"+start)
	expectPage(t, srv, minutes, 200, "Homeserver upgrade", "final wordsecond", "files the zorbticket", "alice reviews",
		"/event/"+action+`"`)
	expectPage(t, srv, minutes+".txt", 200, "* Homeserver upgrade", "ACTION: "+bobNick+" files the zorbticket", "Meeting ended at")
	expectPage(t, srv, "/api/v1/rooms/"+slug+"/meetings/"+url.PathEscape(start), 200, `"ended":true`, "zorbticket")
	// bob, chaired by user ID, ended it; the line after is not in it, and
	// the edit replaced the draft.
	shownNowhere(t, srv, []string{minutes, minutes + ".txt"}, "after the end", "wordfirst")
	expectPage(t, srv, "/room/"+slug+"/"+time.Now().UTC().Format("2006-01-02"), 200, `class="meeting-start"`)

	b.Redact(t, room, action, "wrong ticket")
	w.matchesHomeserver(room, 60*time.Second)
	shownNowhere(t, srv, []string{minutes, minutes + ".txt", "/api/v1/rooms/" + slug + "/meetings/" + url.PathEscape(start),
		"/room/" + slug + "/meetings", "/api/v1/rooms/" + slug + "/meetings"}, "zorbticket")
	expectPage(t, srv, minutes, 200, "alice reviews")
}
