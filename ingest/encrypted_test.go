package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// Through a real homeserver: bob's client made his direct message with the
// bot encrypted from its creation, as clients do, so his "!archive optout"
// reaches the bot as m.room.encrypted. The bot answers once, in plain text
// (an unencrypted m.notice), that it cannot read it; a second encrypted
// message gets no second answer, and bob is not opted out.
func TestEncryptedDirectMessageAnsweredThroughHomeserver(t *testing.T) {
	ctx := context.Background()
	hs, bot, st := runThroughHomeserver(t, "enctest", nil)
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	bob := hs.Register(t, "bob")
	dm := bob.CreateRoom(t, map[string]any{"preset": "trusted_private_chat", "is_direct": true, "invite": []string{string(bot)},
		"initial_state": []map[string]any{{"type": "m.room.encryption", "state_key": "", "content": map[string]any{"algorithm": "m.megolm.v1.aes-sha2"}}}})
	waitFor("the bot to join and read the direct message's state", func() bool {
		_, err := st.CurrentStateID(ctx, id.RoomID(dm), event.TypeMember, bob.ID)
		return err == nil
	})
	encrypted := map[string]any{"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEpABc2VjcmV0", "sender_key": "k", "session_id": "s", "device_id": "D"}
	first := bob.Send(t, dm, event.TypeEncrypted, encrypted)

	type said struct {
		Type    string `json:"type"`
		Sender  string `json:"sender"`
		Content struct {
			MsgType string `json:"msgtype"`
			Body    string `json:"body"`
		} `json:"content"`
	}
	botSaid := func() []said {
		t.Helper()
		var out []said
		for _, raw := range bob.Messages(t, dm) {
			var e said
			if json.Unmarshal(raw, &e) == nil && e.Sender == string(bot) && e.Type != event.TypeMember {
				out = append(out, e)
			}
		}
		return out
	}
	waitFor("the bot's answer to "+first, func() bool { return len(botSaid()) > 0 })
	a := botSaid()[0]
	if a.Type != event.TypeMessage || a.Content.MsgType != "m.notice" || !strings.Contains(a.Content.Body, "cannot read encrypted messages") {
		t.Errorf("the bot's answer: %+v; want an unencrypted m.notice saying it cannot read encrypted messages", a)
	}

	// Again at once: no second answer. A plain command after it is
	// answered after anything queued before it (one goroutine sends the
	// answers in order), so its answer shows the second was not.
	bob.Send(t, dm, event.TypeEncrypted, encrypted)
	bob.SendText(t, dm, "!archive status")
	waitFor("the answer to a plain command", func() bool { return len(botSaid()) >= 2 })
	got := botSaid()
	if len(got) != 2 || !strings.HasPrefix(got[1].Content.Body, "Your messages are shown") {
		t.Errorf("the bot said %+v; want the one answer to encrypted messages, then the answer to the status", got)
	}
	if out, err := st.OptedOut(ctx, id.UserID(bob.ID)); err != nil || out {
		t.Errorf("bob opted out by encrypted messages: %v, %v", out, err)
	}
	if evs, err := st.EventsByID(ctx, []id.EventID{id.EventID(first)}); err != nil || len(evs) != 0 {
		t.Errorf("the encrypted message was stored: %+v, %v", evs, err)
	}
}
