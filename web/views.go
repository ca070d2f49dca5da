package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// The typed views of timelines (day, thread, permalink pages) and the
// shared parts of room pages.

// shown is a message as a reader sees it: its latest valid edit applied,
// its reactions and thread counted, its redaction known.
type shown struct {
	ev        store.Event
	msg       event.Message // the displayed content (after the latest edit)
	edited    bool
	editedAt  int64
	redaction *store.Redaction // set when the message was redacted
	// editUnread: msg is editsNotRead, the message's edits not read
	// within a list's bound (shownTexts).
	editUnread bool
	reactions  []reaction
	thread     threadSummary
	// reactionsCapped is how many reactions were loaded when there may be
	// more (store.MaxRelated, or fewer where its relations were cut by
	// their bytes, shownDay), else 0.
	reactionsCapped int
	// notMessage: ev is an event the archive shows that is no message of
	// its own (an edit, a state change), quoted as a reply's parent
	// (replyParents); nothing else of it is read.
	notMessage bool
	// src is the JSON of the event msg comes from (the message, or its
	// edit shown), which must name "startmeeting" as written for it to
	// start a meeting (meetingLine).
	src json.RawMessage
}

type reaction struct {
	Key     string
	Count   int
	Senders []string
	// SenderIDs are the user IDs of Senders, in their order: a name is
	// a claim (another member's name, or user ID), the ID is who reacted.
	SenderIDs []string
}

type threadSummary struct {
	Count  int
	LastTS int64
	More   bool // store.MaxRelated replies (or MaxRelatedBytes) were loaded, and there may be more
}

type roomView struct {
	Room         store.Room
	Name         string
	Alias        string
	ID           string
	Topic        template.HTML
	Path         string
	MatrixTo     string
	MessageCount int64
	LastActivity string
	Initial      string
	Predecessor  string // path of the previous room, if archived
	Successor    string
	// HistoryNote says where the archived history begins when the archive
	// could not read back to the room's creation.
	HistoryNote string
}

// historyNote says where the archived history begins when the archive
// could not read back to the room's creation ("" otherwise). Only the day
// page shows it: the directory need not read every room's sync state.
func (s *Server) historyNote(ctx context.Context, r store.Room) string {
	if h, ok := headerOf(ctx, r.ID); ok {
		return buildHistoryNote(h.sync)
	}
	rs, err := s.store.RoomSync(ctx, r.ID)
	if err != nil {
		return ""
	}
	return buildHistoryNote(rs)
}

// buildHistoryNote words a room's sync state for readers.
func buildHistoryNote(rs store.RoomSync) string {
	if !rs.ReachedCreate && !rs.CompleteFrom.IsZero() {
		return fmt.Sprintf("The archive holds this room's history from %s on; earlier messages were not archived.",
			rs.CompleteFrom.Format("2 January 2006, 15:04 UTC"))
	}
	return ""
}

// roomLinks is what a room's header needs besides the room itself, read
// before the view is built: its via servers and the rooms it links to, each
// only while shown.
type roomLinks struct {
	via                    []string
	predecessor, successor *store.Room
}

// loadRoomLinks reads a room's links: via servers (cached), the imported
// IRC history's room when the room has no predecessor of its own, and the
// predecessor and successor rooms.
func (s *Server) loadRoomLinks(ctx context.Context, r store.Room) roomLinks {
	if h, ok := headerOf(ctx, r.ID); ok {
		return h.links
	}
	var imported id.RoomID
	if r.Predecessor == "" {
		// A channel's IRC history linked to this room (store/links.go).
		imported, _ = s.store.ImportedPredecessor(ctx, r.ID)
	}
	return s.roomLinksWith(ctx, r, imported)
}

// roomLinksWith is loadRoomLinks with the imported IRC history's room
// already known ("" for none).
func (s *Server) roomLinksWith(ctx context.Context, r store.Room, imported id.RoomID) roomLinks {
	l := roomLinks{via: s.viaServers(ctx, r)}
	pred := r.Predecessor
	if pred == "" {
		pred = imported
	}
	if pred != "" {
		// The imported IRC history's room is the store's own link
		// (store.ImportedPredecessor); a predecessor the room's create
		// event names is linked only when its tombstone names the room.
		if other, err := s.store.Room(ctx, pred); err == nil && other.Shown() && (pred == imported || other.Successor == r.ID) {
			l.predecessor = &other
		}
	}
	if r.Successor != "" {
		if other, err := s.store.Room(ctx, r.Successor); err == nil && other.Shown() {
			if ok, _ := s.namesAsPredecessor(ctx, other, r); ok {
				l.successor = &other
			}
		}
	}
	return l
}

// Upgrades are claims (room state is a claim, not a proof): anyone can
// create a room whose m.room.create names any room as its predecessor,
// and send a tombstone in their own room naming any room as its
// replacement. The archive shows an upgrade as a fact, and links its
// rooms, only when both rooms say it: the new room's create event names
// the old room, and the old room's tombstone names the new one (as
// predecessors does for day links). The one exception is an IRC
// import's room, whose tombstone is the operator's word and which the
// Matrix room's create event cannot name (store.ImportedPredecessor).

// upgradeConfirmed reports whether old's upgrade to next is confirmed by
// both rooms' current state (old's tombstone names next, and next names
// old as its predecessor). Neither room's shown state is checked.
func (s *Server) upgradeConfirmed(ctx context.Context, old, next store.Room) (bool, error) {
	if old.Successor != next.ID {
		return false, nil
	}
	return s.namesAsPredecessor(ctx, next, old)
}

// namesAsPredecessor reports whether next names old as the room it
// replaced: next's create event names it, or old is the IRC import's
// room linked to next (store.ImportedPredecessor). A tombstone of old
// naming next is the other half, checked by the caller (old's Successor,
// or the tombstone event a page shows).
func (s *Server) namesAsPredecessor(ctx context.Context, next, old store.Room) (bool, error) {
	if next.Predecessor == old.ID {
		return true, nil
	}
	if next.Predecessor != "" || !ircRoom(old) {
		return false, nil
	}
	imported, err := s.store.ImportedPredecessor(ctx, next.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && imported == old.ID, err
}

// roomView loads what a room's header needs, then builds it.
func (s *Server) roomView(ctx context.Context, r store.Room) roomView {
	return buildRoomView(r, s.loadRoomLinks(ctx, r), s.render.Plain(r.Topic))
}

// buildRoomView is the room header's view, from data already loaded.
func buildRoomView(r store.Room, l roomLinks, topic template.HTML) roomView {
	v := roomView{
		Room: r, Name: roomName(r), Alias: r.Alias, ID: string(r.ID),
		Topic: topic, Path: roomPath(r), MessageCount: r.MessageCount,
	}
	if !ircRoom(r) {
		v.MatrixTo = event.MatrixToRoom(string(r.ID), l.via)
	}
	if r.LastTS > 0 {
		v.LastActivity = time.UnixMilli(r.LastTS).UTC().Format("2006-01-02 15:04 UTC")
	}
	if first, _ := utf8.DecodeRuneInString(strings.TrimLeft(v.Name, "#!@")); first != utf8.RuneError {
		v.Initial = strings.ToUpper(string(first))
	}
	if l.predecessor != nil {
		v.Predecessor = roomPath(*l.predecessor)
	}
	if l.successor != nil {
		v.Successor = roomPath(*l.successor)
	}
	return v
}

// roomName follows the spec: the name, else the canonical alias, else the
// ID; only an alias that routes to the room stands for it (a squatter's
// claim would pass it off as the real room).
func roomName(r store.Room) string {
	if strings.TrimSpace(r.Name) != "" {
		return r.Name
	}
	if r.Alias != "" {
		return r.Alias
	}
	return string(r.ID)
}

type messageView struct {
	ID string
	// links are the room's: the message's permalink and matrix.to link
	// are written from them and ID, and its time from TS, not made into
	// strings first (four for every message of a day page).
	links      *eventLinks
	TS         int64 // UTC ms, for the local-time script (data-ts)
	SenderName string
	SenderID   string
	Kind       string // text, emote, notice, media
	Body       template.HTML
	Edited     bool
	EditedAt   string
	Deleted    *deletedView
	Reply      *replyView
	Reactions  []reaction
	// ReactionsCapped is how many reactions were counted when not all
	// were, else 0.
	ReactionsCapped int
	Thread          *threadView
	InThread        bool
	Highlight       bool
	// Compact: a thread reply in the main timeline, shown as one line that
	// links to its thread, as clients do.
	Compact    bool
	ThreadPath string
	Excerpt    string
	EditsPath  string
	IRC        *ircOrigin // a line imported from an IRC log (irc.go)
	// MeetingPath: the message is a #startmeeting; its minutes (meetings.go).
	MeetingPath string
}

type deletedView struct {
	// Notice replaces "Message deleted" (a takedown, an opt-out).
	Notice    string
	By        string
	At        string
	Reason    string
	AppliedAt string
}

type replyView struct {
	Permalink  string
	SenderName string
	Excerpt    string
	Missing    string // why there is no excerpt: deleted, not archived
}

type threadView struct {
	Path    string
	Count   int
	More    bool // Count is a lower bound
	LastAt  string
	LastISO string
}

type stateView struct {
	ID        string
	Permalink string
	Time      string
	DateTime  string
	TS        int64 // UTC ms (data-ts)
	Text      string
	// user are the byte ranges of Text that users wrote (line).
	user      [][2]int
	Link      string // an optional link (e.g. to an upgraded room)
	LinkText  string
	Highlight bool
	member    bool
	summary   string // member runs: "joined", "left", …
}

type itemView struct {
	Poll    *pollView
	Message *messageView
	State   *stateView
	Members *memberRunView
}

// memberRunView is a run of membership changes collapsed into one line.
type memberRunView struct {
	Summary string
	Changes []*stateView
	Open    bool // holds the highlighted event
}

const timeLayout = "15:04"

// fmtTime is the time of day (timeLayout) and the RFC 3339 timestamp of
// ms, in UTC. Every item of a page has both: the time of day is read out of
// the timestamp, "…T15:04:05Z", rather than formatted again.
func fmtTime(ms int64) (short, iso string) {
	iso = time.UnixMilli(ms).UTC().Format(time.RFC3339)
	// The year may be wider than four digits, or negative: find the T.
	t := strings.IndexByte(iso, 'T')
	return iso[t+1 : t+1+len(timeLayout)], iso
}

func fmtStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
