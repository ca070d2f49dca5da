package ingest

import (
	"context"
	"math"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// encryptedAnswer is the bot's answer to an encrypted message in a direct
// message. The bot has no keys: "!archive optout" sent encrypted reached it
// as ciphertext, went unanswered, and its sender believed they had opted
// out.
const encryptedAnswer = "Not read: the archive's bot cannot read encrypted messages, so nothing sent encrypted here is taken as a command " +
	"(an \"!archive optout\" sent here has not opted you out). To opt out, start a new direct message with the bot without encryption " +
	"(a room's encryption cannot be turned off) and send \"!archive optout\" there, or ask the archive's operator to opt you out."

// encryptedQuiet is how long a direct message must have been without an
// encrypted message before the next one is answered again. The first of a
// run is answered, and every later one only pushes the quiet time on: the
// user who tries a command again at once still has the answer above it,
// one who comes back later is answered anew, and a member sending
// ciphertext in a loop gets one answer however long the loop runs (a
// limit per period would answer it once a period).
const encryptedQuiet = time.Hour

// encryptedRoomsPerSender is how many direct messages one sender's
// encrypted messages are answered in within encryptedQuiet: a member who
// makes many direct messages with the bot, each sending ciphertext, made
// it send an answer in every one, an answer an hour each (an appservice's
// messages are not rate-limited by its homeserver). A user who tries
// again in a new direct message still encrypted is answered there too.
const encryptedRoomsPerSender = 3

// encryptedNotes remembers, per direct message answered, when its last
// encrypted message came, and per sender when it was answered. In memory:
// a restart forgets them, and the next encrypted message of a room is
// answered again, once.
type encryptedNotes struct {
	mu   sync.Mutex
	last map[id.RoomID]time.Time
	// answered holds each sender's answers of the last encryptedQuiet,
	// at most encryptedRoomsPerSender.
	answered map[id.UserID][]time.Time
	// sweepAt is the size at which noted rooms that have been quiet
	// for encryptedQuiet are forgotten (they would be answered anyway):
	// twice the rooms a sweep kept, at least 1,024, so that many rooms
	// still in their quiet time do not make every note a sweep.
	sweepAt int
}

// recent reports whether room had an encrypted message noted less than
// encryptedQuiet before now, and if so notes now as its latest.
func (n *encryptedNotes) recent(room id.RoomID, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	last, ok := n.last[room]
	if !ok || now.Sub(last) >= encryptedQuiet {
		return false
	}
	n.last[room] = now
	return true
}

// note records now as room's latest encrypted message, from sender, and
// reports whether to answer it: false if another caller noted one in the
// quiet time meanwhile (that one answers), or if sender was answered in
// encryptedRoomsPerSender rooms within encryptedQuiet (the room's quiet
// time starts all the same).
func (n *encryptedNotes) note(room id.RoomID, sender id.UserID, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if last, ok := n.last[room]; ok && now.Sub(last) < encryptedQuiet {
		n.last[room] = now
		return false
	}
	if n.last == nil {
		n.last = map[id.RoomID]time.Time{}
		n.answered = map[id.UserID][]time.Time{}
	}
	n.last[room] = now
	if len(n.last) >= max(n.sweepAt, 1024) {
		for r, t := range n.last {
			if now.Sub(t) >= encryptedQuiet {
				delete(n.last, r)
			}
		}
		for u, ts := range n.answered {
			if now.Sub(ts[len(ts)-1]) >= encryptedQuiet {
				delete(n.answered, u)
			}
		}
		n.sweepAt = 2 * len(n.last)
	}
	ts := n.answered[sender]
	for len(ts) > 0 && now.Sub(ts[0]) >= encryptedQuiet {
		ts = ts[1:]
	}
	if len(ts) >= encryptedRoomsPerSender {
		n.answered[sender] = ts
		return false
	}
	n.answered[sender] = append(ts, now)
	return true
}

// encrypted answers an encrypted message (ev, of type m.room.encrypted,
// not the bot's) once a run of them, in a direct message with the bot:
// a room whose history is not world-readable (where commands are taken)
// and where no one but its sender and the bot is joined or invited, so
// that no one else reads the answer. Its content is never looked at: it
// is not a command, whatever it claims, and neither stored (the ingester
// withholds it, the room not being public) nor logged. It returns nil
// when there is nothing to answer.
//
// The room's m.room.encryption event is not answered: a client that
// encrypts a direct message does so from its creation, before the bot is
// invited, so that event never comes to the bot but in the room's state
// at its join; and /sync brings it again after every restart. The
// message is what its sender expects an answer to.
func (m *Manager) encrypted(ctx context.Context, ev *event.Event) *answer {
	now := time.Now()
	if m.encNotes.recent(ev.RoomID, now) {
		m.log.Debug("not answering an encrypted message again so soon", "room_id", ev.RoomID, "event_id", ev.ID)
		return nil
	}
	dm, err := m.in.privateWith(ctx, ev.RoomID, ev.Sender, m.bot)
	if err != nil {
		// A courtesy: not worth failing the transaction for.
		m.log.Warn("could not tell whether an encrypted message came in a direct message; not answering it",
			"room_id", ev.RoomID, "event_id", ev.ID, "err", err)
		return nil
	}
	if !dm || !m.encNotes.note(ev.RoomID, ev.Sender, now) {
		return nil
	}
	m.log.Info("answering an encrypted message in a direct message: the bot cannot read it", "room_id", ev.RoomID,
		"event_id", ev.ID, "sender", ev.Sender)
	return &answer{room: ev.RoomID, command: ev.ID, text: encryptedAnswer}
}

// privateWith reports whether the room, as the archive knows its state
// now, is one bot shares with user alone: user joined, no one else (but
// bot) joined or invited, and its history not world-readable. It reads the
// state cache the room's events were just judged by, so it costs no query.
// user's own join must be known: until the bot has read the state of a
// room it has just joined, the other members are not, and a busy room
// would look like a direct message.
func (in *Ingester) privateWith(ctx context.Context, roomID id.RoomID, user, bot id.UserID) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	rs, err := in.room(ctx, roomID)
	if err != nil {
		return false, err
	}
	if rs.visibility(math.MaxInt64, "") == worldReadable {
		return false, nil
	}
	joined := false
	for k, list := range rs.entries {
		if k.typ != event.TypeMember || k.key == string(bot) || len(list) == 0 {
			continue
		}
		membership := list[len(list)-1].membership
		switch {
		case k.key == string(user):
			joined = membership == "join"
		case membership == "join" || membership == "invite":
			return false, nil
		}
	}
	return joined, nil
}
