package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

const (
	encBot  = id.UserID("@archive:example.org")
	encUser = id.UserID("@bob:example.org")
)

// encEvent is an event of room (state when stateKey is not "-").
func encEvent(t *testing.T, room id.RoomID, evID, typ string, sender id.UserID, ts int64, stateKey, content string) *event.Event {
	t.Helper()
	sk := ""
	if stateKey != "-" {
		sk = fmt.Sprintf(`,"state_key":%q`, stateKey)
	}
	ev, err := event.Parse(fmt.Appendf(nil, `{"event_id":%q,"room_id":%q,"type":%q,"sender":%q,"origin_server_ts":%d%s,"content":%s}`,
		evID, room, typ, sender, ts, sk, content))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// encRoom is the state of a room bob made and invited the bot to, as
// the bot reads it when it joins: history as visibility says, encrypted
// if encrypted, and others joined besides bob and the bot.
func encRoom(t *testing.T, room id.RoomID, visibility string, encrypted bool, others ...id.UserID) []*event.Event {
	t.Helper()
	p := string(room[1:4])
	evs := []*event.Event{
		encEvent(t, room, "$"+p+"create", event.TypeCreate, encUser, 1, "", `{"room_version":"10"}`),
		encEvent(t, room, "$"+p+"bob", event.TypeMember, encUser, 2, string(encUser), `{"membership":"join"}`),
		encEvent(t, room, "$"+p+"hv", event.TypeHistoryVisibility, encUser, 3, "", fmt.Sprintf(`{"history_visibility":%q}`, visibility)),
	}
	if encrypted {
		evs = append(evs, encEvent(t, room, "$"+p+"enc", event.TypeEncryption, encUser, 4, "", `{"algorithm":"m.megolm.v1.aes-sha2"}`))
	}
	for i, o := range others {
		evs = append(evs, encEvent(t, room, fmt.Sprintf("$%sother%d", p, i), event.TypeMember, o, 5, string(o), `{"membership":"join"}`))
	}
	return append(evs,
		encEvent(t, room, "$"+p+"invite", event.TypeMember, encUser, 6, string(encBot), `{"membership":"invite","is_direct":true}`),
		encEvent(t, room, "$"+p+"join", event.TypeMember, encBot, 7, string(encBot), `{"membership":"join"}`))
}

// ciphertext is an m.room.encrypted event from sender; its content is
// crafted as a hostile client could, with a body naming a command.
func ciphertext(t *testing.T, room id.RoomID, evID string, sender id.UserID, ts int64) *event.Event {
	return encEvent(t, room, evID, event.TypeEncrypted, sender, ts, "-",
		`{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEpABc2VjcmV0","sender_key":"k","session_id":"s","device_id":"D","body":"!archive optout","msgtype":"m.text"}`)
}

// delivered ingests evs as a transaction would bring them and tells the
// manager, and returns the answers it queued.
func delivered(t *testing.T, m *Manager, evs ...*event.Event) []answer {
	t.Helper()
	ctx := context.Background()
	res, err := m.in.Ingest(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Committed(ctx, res.Kept(evs)); err != nil {
		t.Fatal(err)
	}
	var out []answer
	for {
		select {
		case a := <-m.answers:
			out = append(out, a)
		default:
			return out
		}
	}
}

// A direct message whose client encrypted it: the bot cannot read an
// "!archive optout" sent there, and answered nothing, so the user
// believed they had opted out. It answers, in plain text, that it cannot
// read encrypted messages and how to opt out instead; and it takes
// nothing in the ciphertext for a command.
func TestEncryptedDirectMessageIsAnswered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := New(st, storetest.Logger(t), encBot)
		m := NewManager(ManagerConfig{SpoolDir: t.TempDir()}, nil, in, st, encBot, storetest.Logger(t))
		const dm = id.RoomID("!dmenc:example.org")
		if got := delivered(t, m, encRoom(t, dm, "shared", true)...); len(got) != 0 {
			t.Fatalf("answers to the room's state: %+v", got)
		}
		got := delivered(t, m, ciphertext(t, dm, "$cipher1", encUser, 100))
		if len(got) != 1 {
			t.Fatalf("answers to an encrypted message in a direct message: %+v; want one", got)
		}
		a := got[0]
		if a.room != dm || a.command != "$cipher1" {
			t.Errorf("answer in %s to %s; want in %s to $cipher1", a.room, a.command, dm)
		}
		for _, want := range []string{"cannot read encrypted messages", "not opted you out", "without encryption", "\"!archive optout\"", "operator"} {
			if !strings.Contains(a.text, want) {
				t.Errorf("answer %q does not say %q", a.text, want)
			}
		}
		if out, err := st.OptedOut(context.Background(), encUser); err != nil || out {
			t.Errorf("an encrypted message opted its sender out: %v, %v", out, err)
		}
	})
}

// lockedBuffer is a log destination tests read back.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The answer to encrypted messages is bounded, as a hostile member would
// try it: once a run of them in a direct message (a redelivery, a flood,
// the encryption event itself answer nothing more; a message after an
// hour's quiet is answered again), never in a room anyone else is in or
// invited to, nor in one whose history is world-readable, nor to the bot;
// and the ciphertext is neither stored, nor logged, nor taken for a
// command.
func TestEncryptedMessagesAnsweredOnceAndOnlyInDirectMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var logs lockedBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		in := New(st, log, encBot)
		m := NewManager(ManagerConfig{SpoolDir: t.TempDir()}, nil, in, st, encBot, log)
		answered := func(what string, want int, evs ...*event.Event) []answer {
			t.Helper()
			got := delivered(t, m, evs...)
			if len(got) != want {
				t.Errorf("%s: %d answers %+v; want %d", what, len(got), got, want)
			}
			return got
		}

		// A direct message made unencrypted, encrypted after the bot came.
		const dm = id.RoomID("!dmlater:example.org")
		answered("the direct message's state", 0, encRoom(t, dm, "shared", false)...)
		answered("the encryption turned on", 0, encEvent(t, dm, "$dmlenc2", event.TypeEncryption, encUser, 50, "", `{"algorithm":"m.megolm.v1.aes-sha2"}`))
		first := ciphertext(t, dm, "$c1", encUser, 100)
		answered("the first encrypted message", 1, first)
		answered("the first encrypted message redelivered", 0, first)
		var flood []*event.Event
		for i := range 50 {
			flood = append(flood, ciphertext(t, dm, fmt.Sprintf("$flood%d", i), encUser, int64(200+i)))
		}
		answered("a flood of encrypted messages", 0, flood...)
		answered("the bot's own", 0, ciphertext(t, dm, "$fromBot", encBot, 300))
		// A command in plain text is still taken there.
		if got := answered("a plain command", 1, dmCommandIn(t, dm, "$plain", "!archive status")); len(got) == 1 && !strings.HasPrefix(got[0].text, "Your messages are shown") {
			t.Errorf("answer to a plain status: %q", got[0].text)
		}
		// An hour without an encrypted message (each of the flood pushed
		// the quiet time on), and the next is answered again.
		m.encNotes.mu.Lock()
		m.encNotes.last[dm] = time.Now().Add(-encryptedQuiet)
		m.encNotes.mu.Unlock()
		answered("an encrypted message after an hour's quiet", 1, ciphertext(t, dm, "$c2", encUser, 400))

		// Rooms that are not a direct message with the bot.
		group := id.RoomID("!grp:example.org")
		answered("a group's state", 0, encRoom(t, group, "shared", true, "@carol:example.org")...)
		answered("an encrypted message in a group", 0, ciphertext(t, group, "$g1", encUser, 100))
		invited := id.RoomID("!inv:example.org")
		answered("a room's state", 0, encRoom(t, invited, "joined", true)...)
		answered("an invite", 0, encEvent(t, invited, "$invdave", event.TypeMember, encUser, 50, "@dave:example.org", `{"membership":"invite"}`))
		answered("an encrypted message with a third invited", 0, ciphertext(t, invited, "$i1", encUser, 100))
		answered("the invite withdrawn", 0, encEvent(t, invited, "$invdave2", event.TypeMember, encUser, 150, "@dave:example.org", `{"membership":"leave"}`))
		answered("an encrypted message once the third is gone", 1, ciphertext(t, invited, "$i2", encUser, 200))
		public := id.RoomID("!pub:example.org")
		answered("a world-readable room's state", 0, encRoom(t, public, "world_readable", true)...)
		answered("an encrypted message in a world-readable room", 0, ciphertext(t, public, "$p1", encUser, 100))
		// A room the bot joined and whose state it has not read: its
		// members are unknown, so it is not taken for a direct message.
		unread := id.RoomID("!unread:example.org")
		answered("the bot's join alone", 0, encEvent(t, unread, "$unreadjoin", event.TypeMember, encBot, 1, string(encBot), `{"membership":"join"}`))
		answered("an encrypted message before the room's state is read", 0, ciphertext(t, unread, "$u1", encUser, 100))

		if out, err := st.OptedOut(ctx, encUser); err != nil || out {
			t.Errorf("encrypted messages opted their sender out: %v, %v", out, err)
		}
		if evs, err := st.EventsByID(ctx, []id.EventID{"$c1", "$c2", "$g1", "$i2", "$p1"}); err != nil || len(evs) != 0 {
			t.Errorf("encrypted messages stored: %+v, %v", evs, err)
		}
		if l := logs.String(); strings.Contains(l, "AwgAEpABc2VjcmV0") || strings.Contains(l, "!archive optout") {
			t.Errorf("the log holds an encrypted message's content:\n%s", l)
		}
	})
}

// dmCommandIn is a plain-text command in room.
func dmCommandIn(t *testing.T, room id.RoomID, evID, body string) *event.Event {
	t.Helper()
	return encEvent(t, room, evID, event.TypeMessage, encUser, 350, "-", fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body))
}

// The notes of rooms answered are forgotten once quiet for an hour, when
// there are many: a member who makes many direct messages with the bot
// does not grow the archiver without limit.
func TestEncryptedNotesForgetQuietRooms(t *testing.T) {
	var n encryptedNotes
	now := time.Now()
	for i := range 1023 {
		if !n.note(id.RoomID(fmt.Sprintf("!r%d:example.org", i)), id.UserID(fmt.Sprintf("@u%d:example.org", i)), now.Add(-2*encryptedQuiet)) {
			t.Fatalf("room %d: not noted", i)
		}
	}
	if len(n.last) != 1023 {
		t.Fatalf("%d rooms noted; want 1023", len(n.last))
	}
	n.note("!new:example.org", "@new:example.org", now)
	if len(n.last) != 1 || len(n.answered) != 1 {
		t.Errorf("%d rooms and %d senders noted after a sweep; want the quiet ones gone", len(n.last), len(n.answered))
	}
	if !n.recent("!new:example.org", now.Add(time.Minute)) || n.recent("!r1:example.org", now) {
		t.Error("a sweep forgot the wrong rooms")
	}
}

// One sender is answered in at most encryptedRoomsPerSender direct
// messages an hour: a member who made many direct messages with the bot
// and sent ciphertext in each got an answer in every one, every hour.
// Other senders are answered meanwhile, and the sender again an hour on.
func TestEncryptedAnswersPerSender(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		in := New(st, storetest.Logger(t), encBot)
		m := NewManager(ManagerConfig{SpoolDir: t.TempDir()}, nil, in, st, encBot, storetest.Logger(t))
		answers := 0
		for i := range 6 {
			dm := id.RoomID(fmt.Sprintf("!dm%d:example.org", i))
			delivered(t, m, encRoom(t, dm, "shared", true)...)
			answers += len(delivered(t, m, ciphertext(t, dm, fmt.Sprintf("$c%d", i), encUser, 100)))
		}
		if answers != encryptedRoomsPerSender {
			t.Errorf("one sender's encrypted messages in 6 direct messages got %d answers; want %d", answers, encryptedRoomsPerSender)
		}
	})
	var n encryptedNotes
	now := time.Now()
	for i := range encryptedRoomsPerSender {
		if !n.note(id.RoomID(fmt.Sprintf("!r%d:example.org", i)), "@a:example.org", now) {
			t.Fatalf("room %d not answered", i)
		}
	}
	if n.note("!more:example.org", "@a:example.org", now.Add(time.Minute)) {
		t.Errorf("a fourth room of the same sender answered")
	}
	if !n.note("!other:example.org", "@b:example.org", now.Add(time.Minute)) {
		t.Errorf("another sender not answered")
	}
	if !n.note("!later:example.org", "@a:example.org", now.Add(encryptedQuiet)) {
		t.Errorf("the sender not answered in a new room an hour on")
	}
	if n.note("!more:example.org", "@a:example.org", now.Add(encryptedQuiet)) {
		t.Errorf("a room unanswered within the hour answered before its own quiet hour")
	}
}

// Answers to encrypted messages take at most half the answer queue: a
// member with many direct messages, each sending one encrypted message,
// cannot crowd out the answers to commands.
func TestEncryptedAnswersLeaveRoomForCommands(t *testing.T) {
	m := &Manager{log: storetest.Logger(t), answers: make(chan answer, 8)}
	courtesy := func(i int) *answer {
		return &answer{room: id.RoomID(fmt.Sprintf("!dm%d:example.org", i)), command: id.EventID(fmt.Sprintf("$enc%d", i)), text: encryptedAnswer}
	}
	for i := range 8 {
		m.queueCourtesy(courtesy(i))
	}
	if n := len(m.answers); n != 4 {
		t.Errorf("%d answers to encrypted messages queued, want 4 of 8 places", n)
	}
	for i := range 4 {
		m.queue(&answer{room: "!cmd:example.org", command: id.EventID(fmt.Sprintf("$cmd%d", i)), text: "You are opted out."})
	}
	cmds := 0
	for len(m.answers) > 0 {
		if a := <-m.answers; strings.HasPrefix(string(a.command), "$cmd") {
			cmds++
		}
	}
	if cmds != 4 {
		t.Errorf("%d of 4 command answers queued", cmds)
	}
	m.queueCourtesy(nil) // nothing to answer: nothing queued
	if len(m.answers) != 0 {
		t.Error("a nil answer was queued")
	}
}
