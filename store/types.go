package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// Event is a Matrix event as the archive stores it, with what ingest derived
// from the room state in force when it was sent.
type Event struct {
	event.Event
	// NID is the store's own sequence number (set on read); it breaks ties
	// between events with the same origin_server_ts.
	NID int64
	// Public is true when the room's history was world_readable (and the
	// room unencrypted) when the event was sent. Only public events are shown.
	Public bool
	// SenderName is the sender's display name as it was at the event.
	SenderName string
	Rel        event.Relation
	Redacted   bool
	// ReceivedAt is when the archive stored the event; zero for the
	// events of a day's reads (DayPage, DayPageBefore, RelatedIn), which
	// leave the column out: no page shows it, and modernc's cost grows
	// with every column of every row.
	ReceivedAt time.Time
	// Expired: the room's retention policy has expired it (set on read;
	// its content is withdrawn). OptedOut: its sender opted out (content
	// withdrawn too).
	Expired  bool
	OptedOut bool
	// Withheld (on write): a message sent while its room was not public,
	// as judged when it arrived. It is not stored; its ID is, so that a
	// later delivery judged otherwise (a visibility change that claims an
	// earlier time, arriving after it) does not store it either.
	Withheld bool
	// Arrived (on write), from 1: the order of an m.room.history_visibility
	// event in a batch pushed in the room's order (an appservice
	// transaction, the state read on joining). The latest of its room's
	// stored, on its first push (pushed_visibility), becomes the room's
	// visibility in its order (rooms.arrived_visibility), which hides the
	// room when it is not world_readable whatever the event's timestamp
	// claims (Room.HistoryVisibility; ArrivedVisibility).
	Arrived int
}

// Displayable reports whether the event is a timeline message (not an edit,
// a reaction or a redaction): what day pages list and rooms count.
func (e *Event) Displayable() bool { return isTimelineMessage(e.Type, e.Rel.Type) }

// PollStart reports whether the event is the start of a poll, not an edit
// of one nor a state event of its type: what a page shows as a poll
// (the web's polls), the calendar counts (shownPollCond) and search
// indexes beside messages (Readable). pollStartSQL says the same in SQL.
func (e *Event) PollStart() bool {
	return event.IsPollStart(e.Type) && e.Rel.Type != event.RelReplace && !e.IsState()
}

// Readable reports whether the event is what a reader reads as one: a
// timeline message, or the start of a poll (its question and answers).
// Such an event, shown, is what the calendar and a day's hours count
// (Counted), what a room's first and last times span (writer.put) and
// what the search index may hold. readableSQL says the same in SQL.
func (e *Event) Readable() bool { return e.Displayable() || e.PollStart() }

// Counted reports whether e, as a read returned it (screened), is what
// a day's and an hour's counts count (DayCounts, HourCounts): a message
// shown in full or a poll, as shownMessageCond and shownPollCond select in
// SQL (public, Readable, not redacted, its sender not opted out), and
// not expired. HourCountsFrom's callers count with it.
func (e *Event) Counted() bool {
	return e.Public && e.Readable() && !e.Redacted && !e.OptedOut && !e.Expired
}

// isTimelineMessage is the one Go statement of "a timeline message": a
// message or sticker that is not an edit of another. timelineMessageSQL
// says the same in SQL; a test holds the two together.
func isTimelineMessage(typ, relType string) bool {
	return (typ == event.TypeMessage || typ == event.TypeSticker) && relType != event.RelReplace
}

// timelineMessageSQL is isTimelineMessage as a condition on events, which
// every query about messages composes rather than spelling it again.
const timelineMessageSQL = `type IN ('` + event.TypeMessage + `', '` + event.TypeSticker + `') AND rel_type <> '` + event.RelReplace + `'`

// pollStartSQL is Event.PollStart as a condition on events.
const pollStartSQL = `type IN ('` + event.TypePollStart + `', '` + event.TypePollStartUnstable + `') AND rel_type <> '` + event.RelReplace + `' AND state_key IS NULL`

// readableSQL is Event.Readable as a condition on events.
const readableSQL = `((` + timelineMessageSQL + `) OR (` + pollStartSQL + `))`

// dayListedSQL is what day pages list besides messages' own relations:
// every event but reactions, redaction events and edits, which are shown
// through their targets.
const dayListedSQL = `type NOT IN ('` + event.TypeReaction + `', '` + event.TypeRedaction + `') AND rel_type <> '` + event.RelReplace + `'`

// Redaction is what the archive knows of one m.room.redaction.
type Redaction struct {
	RedactionID id.EventID
	TargetID    id.EventID
	RoomID      id.RoomID
	Sender      id.UserID
	Reason      string
	// TS is the redaction event's own origin_server_ts.
	TS         time.Time
	ReceivedAt time.Time
	// AppliedAt is zero while the target has not arrived.
	AppliedAt time.Time
	Rejected  bool
	// Kind says what withdrew the message.
	Kind RedactionKind
}

// RedactionKind is what withdrew a message's content.
type RedactionKind uint8

const (
	RedactionByUser   RedactionKind = iota // an m.room.redaction sent in the room
	RedactionTakedown                      // the operator's takedown (Store.Takedown)
	RedactionOptOut                        // its sender opted out (OptOutRedaction; never stored)
)

// String names the kind for logs and machine-readable output.
func (k RedactionKind) String() string {
	switch k {
	case RedactionByUser:
		return "redaction"
	case RedactionTakedown:
		return "takedown"
	case RedactionOptOut:
		return "optout"
	}
	return fmt.Sprintf("RedactionKind(%d)", uint8(k))
}

// The redaction IDs the archive makes up for what is not an
// m.room.redaction. No Matrix event ID has them (event.Parse requires a
// leading '$'), so no room member can forge one; existing databases hold
// takedowns under takedownPrefix, so the kind is read from the ID rather
// than stored beside it.
const (
	takedownPrefix = "takedown:"
	optOutPrefix   = "optout:"
)

// redactionKindOf is the one place a stored redaction's kind is read.
func redactionKindOf(redactionID string) RedactionKind {
	switch {
	case strings.HasPrefix(redactionID, takedownPrefix):
		return RedactionTakedown
	case strings.HasPrefix(redactionID, optOutPrefix):
		return RedactionOptOut
	}
	return RedactionByUser
}

// Room is a room's current summary, derived from its state events.
type Room struct {
	ID             id.RoomID
	Version        string
	Creator        id.UserID
	CreateEventID  id.EventID
	Name           string
	Topic          string
	AvatarURL      string
	CanonicalAlias string // as the room's state claims it
	// Alias is CanonicalAlias when that alias routes to this room (verified
	// with the homeserver's directory, or unclaimed by any other imported
	// room), else "": the room's URLs use it.
	Alias             string
	AltAliases        []string
	JoinRule          string
	HistoryVisibility string
	Encrypted         bool
	Predecessor       id.RoomID
	Successor         id.RoomID
	Hidden            bool // by the operator
	HiddenReason      string
	BotMembership     string // the archive bot's membership; "" for rooms it never joined (imports)
	MessageCount      int64
	FirstTS           int64
	LastTS            int64
	// Purged by the operator: nothing of it is stored any more.
	Purged bool
	// OwnMaxLifetime is the max_lifetime (ms) of the room's own
	// m.room.retention, nil if it sets none. MaxLifetime is the effective
	// one under the operator's policy (0: nothing expires).
	OwnMaxLifetime *int64
	MaxLifetime    time.Duration
	// showFormerlyPublic is the operator's Policy.ShowFormerlyPublic.
	showFormerlyPublic bool
}

// Hiding is why the archive does not show a room: a fact, which the web
// and the archiver put in their own words.
type Hiding uint8

// The reasons, in the order Room.Hiding checks them.
const (
	NotHidden        Hiding = iota
	HiddenPurged            // removed by the operator: nothing of it is stored
	HiddenByOperator        // hidden by the operator; Room.HiddenReason says why, if they said
	HiddenBotBanned         // the room's moderators banned the archive bot
	HiddenBotLeft           // the archive bot left, was kicked, or is only invited back
	HiddenNotPublic         // the room's history is no longer world-readable
)

// String names the reason for logs and machine-readable output.
func (h Hiding) String() string {
	switch h {
	case NotHidden:
		return "shown"
	case HiddenPurged:
		return "purged"
	case HiddenByOperator:
		return "operator_hidden"
	case HiddenBotBanned:
		return "bot_banned"
	case HiddenBotLeft:
		return "bot_left"
	case HiddenNotPublic:
		return "not_public"
	}
	return fmt.Sprintf("Hiding(%d)", uint8(h))
}

// Hiding says why the room is not shown, or NotHidden if it is: hidden by
// the operator, the archive bot removed from it, or its history no longer
// world-readable (ARCHITECTURE.md rule 2: the archive stops showing a room
// until it is public again).
func (r Room) Hiding() Hiding {
	switch {
	case r.Purged:
		return HiddenPurged
	case r.Hidden:
		return HiddenByOperator
	case r.BotMembership == "ban":
		return HiddenBotBanned
	case r.BotMembership == "leave" || r.BotMembership == "invite":
		return HiddenBotLeft
	case r.HistoryVisibility != "" && r.HistoryVisibility != "world_readable" && !r.showFormerlyPublic:
		return HiddenNotPublic
	}
	return NotHidden
}

// Shown reports whether the archive shows the room.
func (r Room) Shown() bool { return r.Hiding() == NotHidden }

// Change is one entry of the change feed.
type Change struct {
	Pos     int64
	Kind    ChangeKind
	RoomID  id.RoomID
	EventID id.EventID
	UserID  id.UserID
	At      time.Time
}

// Mark identifies the change apart from its position: a digest of what
// it says and when it was written. A position given again to another
// change (a database restored from an older backup) has another mark,
// but for the chance of a collision of 64 bits. It holds no ID in the
// clear.
func (c Change) Mark() string {
	h := sha256.New()
	for _, f := range []string{string(c.Kind), string(c.RoomID), string(c.EventID), string(c.UserID)} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	fmt.Fprintf(h, "%d", c.At.UnixMilli())
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// ChangeKind says what happened at a change-feed position.
type ChangeKind string

// The kinds of change the feed carries. An indexer re-reads the event from
// the store for each, so the kind is a hint, not the data.
const (
	ChangeStored   ChangeKind = "stored"
	ChangeEdited   ChangeKind = "edited" // EventID is the original whose latest text changed
	ChangeRedacted ChangeKind = "redacted"
	ChangeExpired  ChangeKind = "expired"
	ChangeHidden   ChangeKind = "room_hidden"
	// ChangeRenamed: EventID's sender name changed (NamePuppets).
	ChangeRenamed ChangeKind = "renamed"
	// ChangeUser concerns all messages of Change.UserID (opt-out, opt-in,
	// erasure).
	ChangeUser ChangeKind = "user"
	// ChangeListed: the room's archive controls, which say whether it asks
	// not to be listed, may have changed (a controls event stored or
	// redacted). Its messages are unchanged.
	ChangeListed ChangeKind = "room_listed"
)

// PutResult counts what PutEvents did.
type PutResult struct {
	Stored            int // new events written
	Duplicates        int // events already in the archive, left unchanged
	RedactionsApplied int
	RedactionsPending int // redactions whose target is not (yet) in the archive
	RedactionsInvalid int
	Withdrawn         int // deleted on purpose before (tombstoned), or of a purged room: not stored
	// Quarantined lists the events the database refused, kept aside for
	// the operator (Store.Quarantined) instead of stored.
	Quarantined []id.EventID
}

// Add accumulates another batch's result.
func (r *PutResult) Add(o PutResult) {
	r.Stored += o.Stored
	r.Duplicates += o.Duplicates
	r.RedactionsApplied += o.RedactionsApplied
	r.RedactionsPending += o.RedactionsPending
	r.RedactionsInvalid += o.RedactionsInvalid
	r.Withdrawn += o.Withdrawn
	r.Quarantined = append(r.Quarantined, o.Quarantined...)
}
