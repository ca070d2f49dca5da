package ingest

import (
	"sort"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// roomState is a room's state over time, in memory: for each (type,
// state_key) the state events in timeline order, so that "the state in force
// when event X was sent" is a binary search. Timeline order is
// origin_server_ts; Matrix gives nothing better without the room DAG.
type roomState struct {
	entries map[stateKey][]stateEntry
	seen    map[id.EventID]bool
	// assumeWorldReadable stands in for a missing m.room.history_visibility
	// when the operator has said the room was world-readable.
	assumeWorldReadable bool
	// bot is the archive bot, whose removal from the room stops recording.
	bot id.UserID
	// arrived is the room's history visibility in its order, as its
	// transactions brought it (store.ArrivedVisibility); "" where not
	// known.
	arrived string
}

type stateKey struct{ typ, key string }

type stateEntry struct {
	ts      int64
	seq     int64 // arrival order, breaking ties between equal timestamps
	eventID id.EventID
	// value is the one field each message consults, decoded once: the
	// display name of a member event, the visibility of a
	// history-visibility event.
	value string
	// membership of a member event; own: the member sent it themselves.
	membership string
	own        bool
}

func newRoomState(bot id.UserID) *roomState {
	return &roomState{entries: map[stateKey][]stateEntry{}, seen: map[id.EventID]bool{}, bot: bot}
}

// add records a state event; adding one twice changes nothing.
func (r *roomState) add(ev *event.Event, seq int64) {
	if ev.StateKey == nil || r.seen[ev.ID] {
		return
	}
	r.seen[ev.ID] = true
	k := stateKey{ev.Type, *ev.StateKey}
	list := r.entries[k]
	e := stateEntry{ts: ev.OriginTS, seq: seq, eventID: ev.ID}
	switch ev.Type {
	case event.TypeMember:
		e.value = event.StringField(ev.Content, "displayname")
		e.membership = event.StringField(ev.Content, "membership")
		e.own = string(ev.Sender) == *ev.StateKey
	case event.TypeHistoryVisibility:
		e.value = event.StringField(ev.Content, "history_visibility")
	}
	i := sort.Search(len(list), func(i int) bool {
		return list[i].ts > e.ts || (list[i].ts == e.ts && list[i].seq > e.seq)
	})
	list = append(list, stateEntry{})
	copy(list[i+1:], list[i:])
	list[i] = e
	r.entries[k] = list
}

// at returns the state event (typ, key) in force at ts, excluding the event
// `self` (so a state event can be judged by the state it replaced).
func (r *roomState) at(typ, key string, ts int64, self id.EventID) (stateEntry, bool) {
	list := r.entries[stateKey{typ, key}]
	i := sort.Search(len(list), func(i int) bool { return list[i].ts > ts })
	for i--; i >= 0; i-- {
		if list[i].eventID != self {
			return list[i], true
		}
	}
	return stateEntry{}, false
}

const worldReadable = event.WorldReadable

// visibility is the history visibility in force at ts (before self).
func (r *roomState) visibility(ts int64, self id.EventID) string {
	e, ok := r.at(event.TypeHistoryVisibility, "", ts, self)
	if !ok {
		if r.assumeWorldReadable {
			return worldReadable
		}
		return "shared" // the spec's default when the event is missing
	}
	if e.value == "" {
		return "shared"
	}
	return e.value
}

// public reports whether ev may be archived and shown: the room's history
// was world_readable when it was sent, and the room was not encrypted
// (ARCHITECTURE.md rule 2). A history-visibility change is itself public if
// either side of it is world_readable, as the spec rules for visibility.
func (r *roomState) public(ev *event.Event) bool {
	if ev.Type == event.TypeEncrypted {
		return false
	}
	if _, enc := r.at(event.TypeEncryption, "", ev.OriginTS, ev.ID); enc || (ev.Type == event.TypeEncryption && ev.StateKey != nil) {
		return false
	}
	if r.botRemoved(ev.OriginTS) {
		return false
	}
	before := r.visibility(ev.OriginTS, ev.ID)
	if ev.Type == event.TypeHistoryVisibility && ev.StateKey != nil && *ev.StateKey == "" {
		return before == worldReadable || event.StringField(ev.Content, "history_visibility") == worldReadable
	}
	return before == worldReadable
}

// inOrder reports whether ev may be archived by the history visibility in
// force before it in the room's order (before; "" where that is not
// known): the events' timestamps are their senders' claims, and a
// "world_readable" stamped years back, or a "joined" stamped years ahead,
// would otherwise publish what the room's members said under "joined".
// An event is public only if both orders say so (public and this). A
// history-visibility change is itself public if either side of it is
// world_readable.
func inOrder(ev *event.Event, before string) bool {
	if before == "" || before == worldReadable {
		return true
	}
	return event.IsHistoryVisibility(ev) && event.HistoryVisibility(ev.Content) == worldReadable
}

// botRemoved reports whether the archive bot had been kicked or banned (and
// not let back in) at ts: what is sent then was not meant to be archived.
// An invite after a removal is not yet a welcome back; history from before
// the bot's first membership is archived (that is backfill's purpose).
func (r *roomState) botRemoved(ts int64) bool {
	if r.bot == "" {
		return false
	}
	list := r.entries[stateKey{event.TypeMember, string(r.bot)}]
	i := sort.Search(len(list), func(i int) bool { return list[i].ts > ts })
	for i--; i >= 0; i-- {
		switch list[i].membership {
		case "invite", "knock":
			continue
		case "leave", "ban":
			return true
		default:
			return false
		}
	}
	return false
}

// displayName is the sender's display name at ts, "" if none was set:
// of the latest member event they sent themselves (a join, a change of
// name). Another's member event about them (an invite, a kick, a ban)
// names them as its sender claims: an invite back after they left, with
// a display name of the inviter's choosing and stamped before their
// messages, renamed what they had written (helper-95). They cannot send
// a message without having joined themselves.
func (r *roomState) displayName(user id.UserID, ts int64, self id.EventID) string {
	if e := r.nameSource(user, ts, self); e != nil {
		return e.value
	}
	return ""
}

// nameSource is the member event displayName reads, nil if none.
func (r *roomState) nameSource(user id.UserID, ts int64, self id.EventID) *stateEntry {
	list := r.entries[stateKey{event.TypeMember, string(user)}]
	i := sort.Search(len(list), func(i int) bool { return list[i].ts > ts })
	for i--; i >= 0; i-- {
		if list[i].eventID != self && list[i].own {
			return &list[i]
		}
	}
	return nil
}

// setName gives the member event memberID of user the display name the
// store now holds for it, and reports whether that changed it.
func (r *roomState) setName(user id.UserID, memberID id.EventID, name string) bool {
	list := r.entries[stateKey{event.TypeMember, string(user)}]
	for i := range list {
		if list[i].eventID == memberID && list[i].value != name {
			list[i].value = name
			return true
		}
	}
	return false
}
