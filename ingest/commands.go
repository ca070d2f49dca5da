package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

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

// answer is the bot's reply to a command, sent after the command's
// transaction was acknowledged. Its transaction ID is derived from the
// command's event ID, so a redelivered command is answered once.
type answer struct {
	room    id.RoomID
	command id.EventID
	text    string
}

func (a answer) send(ctx context.Context, c *Client) error {
	_, err := c.SendMessage(ctx, a.room, "answer-"+string(a.command), map[string]any{"msgtype": "m.notice", "body": a.text})
	return err
}

// optInWaitText says d for the answer ("an hour", "5m0s").
func optInWaitText(d time.Duration) string {
	if d == time.Hour {
		return "an hour"
	}
	return d.String()
}

// command carries out one "!archive …" command and returns the answer to
// send (nil: none). Commands are taken only in rooms the archive does not
// publish (a direct message with the bot): an opt-out typed in a public
// room would itself be archived, and the answer would be noise there. Each
// affects only its sender, so anyone may use it.
func (m *Manager) command(ctx context.Context, ev *event.Event) (*answer, error) {
	room, err := m.st.Room(ctx, ev.RoomID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil && room.HistoryVisibility == "world_readable" {
		m.log.Info("ignoring a command in a public room", "room_id", ev.RoomID, "sender", ev.Sender)
		return nil, nil
	}
	verb := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(event.StringField(ev.Content, "body")), commandPrefix)))
	a := &answer{room: ev.RoomID, command: ev.ID}
	switch verb {
	case "optout", "opt-out":
		if _, err := m.st.OptOut(ctx, ev.Sender, store.OptOutByUser); err != nil {
			return nil, err
		}
		m.log.Info("user opted out by direct message", "user_id", ev.Sender)
		a.text = "Done: your messages in the public archive are now hidden (hidden at the sender's request), past and future, and removed from its search; so are your reactions, the reasons of your redactions and your display name. Send \"!archive optin\" to undo this."
	case "optin", "opt-in":
		// Only the user's own opt-out: an operator's opt-out or erasure
		// is the operator's to undo (a DM must not bring back what the
		// operator removed).
		var before time.Time
		if m.optInWait > 0 {
			before = time.Now().Add(-m.optInWait)
		}
		changed, err := m.st.OptInSelf(ctx, ev.Sender, before)
		if err != nil {
			return nil, err
		}
		via := ""
		if !changed {
			if via, err = m.st.OptOutVia(ctx, ev.Sender); err != nil {
				return nil, err
			}
		}
		switch {
		case changed:
			m.log.Info("user opted in by direct message", "user_id", ev.Sender)
			a.text = "Done: your messages in public, world-readable rooms are shown in the archive again."
		case via == store.OptOutByUser:
			m.log.Info("refused a direct-message opt-in: the user opted out too recently", "user_id", ev.Sender)
			a.text = fmt.Sprintf("Not yet: an opt-in is taken %s after your opt-out at the earliest (each one makes the archive read all your messages again). Please send \"!archive optin\" again later.", optInWaitText(m.optInWait))
		case via != "":
			m.log.Warn("refused a direct-message opt-in: the operator opted this user out", "user_id", ev.Sender, "via", via)
			a.text = "Not done: the archive's operator hid your messages, so only the operator can show them again. Please contact them."
		default:
			a.text = "Your messages are already shown in the archive of world-readable rooms."
		}
	case "status":
		via, err := m.st.OptOutVia(ctx, ev.Sender)
		if err != nil {
			return nil, err
		}
		switch via {
		case "":
			a.text = "Your messages are shown in the archive of world-readable rooms. Send \"!archive optout\" to hide them."
		case store.OptOutByUser:
			a.text = "You have opted out: your messages are hidden in the archive. Send \"!archive optin\" to show them again."
		default:
			a.text = "The archive's operator hid your messages in the archive; only the operator can show them again."
		}
	default:
		a.text = "Commands: \"!archive optout\" hides your messages in the public archive (past and future), \"!archive optin\" shows them again, \"!archive status\" says which applies."
	}
	return a, nil
}
