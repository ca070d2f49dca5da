package ingest

import (
	"context"
	"errors"
	"strings"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// commandPrefix starts the commands people send the bot in a direct
// message: "!archive optout", "!archive optin", "!archive status".
const commandPrefix = "!archive"

func isCommand(ev *event.Event) bool {
	body := strings.TrimSpace(event.StringField(ev.Content, "body"))
	return body == commandPrefix || strings.HasPrefix(body, commandPrefix+" ")
}

// command answers one "!archive …" command. Commands are taken only in
// rooms the archive does not publish (a direct message with the bot): an
// opt-out typed in a public room would itself be archived, and the answer
// would be noise there. Each affects only its sender, so anyone may use it.
// The answer's transaction ID is derived from the command's event ID, so a
// redelivered command is answered once.
func (m *Manager) command(ctx context.Context, ev *event.Event) error {
	room, err := m.st.Room(ctx, ev.RoomID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err == nil && room.HistoryVisibility == "world_readable" {
		m.log.Info("ignoring a command in a public room", "room_id", ev.RoomID, "sender", ev.Sender)
		return nil
	}
	verb := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(event.StringField(ev.Content, "body")), commandPrefix)))
	var answer string
	switch verb {
	case "optout", "opt-out":
		if _, err := m.st.OptOut(ctx, ev.Sender, "dm"); err != nil {
			return err
		}
		m.log.Info("user opted out by direct message", "user_id", ev.Sender)
		answer = "Done: your messages in the public archive are now hidden (" + store.OptOutNotice + "), past and future, and removed from its search. Send \"!archive optin\" to undo this."
	case "optin", "opt-in":
		if _, err := m.st.OptIn(ctx, ev.Sender); err != nil {
			return err
		}
		m.log.Info("user opted in by direct message", "user_id", ev.Sender)
		answer = "Done: your messages in public, world-readable rooms are shown in the archive again."
	case "status":
		out, err := m.st.OptedOut(ctx, ev.Sender)
		if err != nil {
			return err
		}
		answer = "Your messages are shown in the archive of world-readable rooms. Send \"!archive optout\" to hide them."
		if out {
			answer = "You have opted out: your messages are hidden in the archive. Send \"!archive optin\" to show them again."
		}
	default:
		answer = "Commands: \"!archive optout\" hides your messages in the public archive (past and future), \"!archive optin\" shows them again, \"!archive status\" says which applies."
	}
	_, err = m.client.SendMessage(ctx, ev.RoomID, "answer-"+string(ev.ID), map[string]any{"msgtype": "m.notice", "body": answer})
	return err
}
