package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/meeting"
	"github.com/mxarchive/mxarchive/store"
)

// shown is a message as a reader sees it: its latest valid edit applied,
// its reactions and thread counted, its redaction known.
type shown struct {
	ev        store.Event
	msg       event.Message // the displayed content (after the latest edit)
	edited    bool
	editedAt  int64
	redaction *store.Redaction // set when the message was redacted
	reactions []reaction
	thread    threadSummary
	// reactionsCapped: store.MaxRelated reactions were loaded, and there
	// may be more.
	reactionsCapped bool
}

type reaction struct {
	Key     string
	Count   int
	Senders []string
}

type threadSummary struct {
	Count  int
	LastTS int64
	More   bool // store.MaxRelated replies were loaded, and there may be more
}

// relatedIndex groups related events by what they relate to.
type relatedIndex struct {
	edits     map[id.EventID][]*event.Event
	reactions map[id.EventID][]store.Event
	thread    map[id.EventID][]store.Event
}

func indexRelated(rel []store.Event) relatedIndex {
	ix := relatedIndex{
		edits:     map[id.EventID][]*event.Event{},
		reactions: map[id.EventID][]store.Event{},
		thread:    map[id.EventID][]store.Event{},
	}
	for i := range rel {
		r := rel[i]
		switch r.Rel.Type {
		case "m.replace":
			ix.edits[r.Rel.EventID] = append(ix.edits[r.Rel.EventID], &rel[i].Event)
		case "m.annotation":
			if r.Type == event.TypeReaction {
				ix.reactions[r.Rel.EventID] = append(ix.reactions[r.Rel.EventID], r)
			}
		case "m.thread":
			ix.thread[r.Rel.EventID] = append(ix.thread[r.Rel.EventID], r)
		}
	}
	return ix
}

// shownMessages resolves the displayed form of every message among evs.
func (s *Server) shownMessages(ctx context.Context, evs []store.Event) (map[id.EventID]*shown, error) {
	var ids []id.EventID
	for _, e := range evs {
		if e.Displayable() {
			ids = append(ids, e.ID)
		}
	}
	out := make(map[id.EventID]*shown, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rel, err := s.store.Related(ctx, ids)
	if err != nil {
		return nil, err
	}
	ix := indexRelated(rel)
	var redacted []id.EventID
	for _, e := range evs {
		if e.Displayable() && e.Redacted && !e.OptedOut {
			redacted = append(redacted, e.ID)
		}
	}
	redactions, err := s.store.RedactionsOf(ctx, redacted)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		e := evs[i]
		if !e.Displayable() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("messages shown: %w", err)
		}
		sh, err := s.shownOne(e, ix, redactions)
		if err != nil {
			return nil, err
		}
		out[e.ID] = sh
	}
	return out, nil
}

func (s *Server) shownOne(e store.Event, ix relatedIndex, redactions map[id.EventID]store.Redaction) (*shown, error) {
	sh := &shown{ev: e}
	if e.OptedOut {
		r := store.OptOutRedaction(e)
		sh.redaction = &r
		return sh, nil
	}
	if e.Redacted {
		r := redactions[e.ID] // zero when unknown: still shown as deleted
		sh.redaction = &r
		return sh, nil
	}
	content := e.Content
	var valid []*event.Event
	for _, ed := range ix.edits[e.ID] {
		if event.ValidEdit(&e.Event, ed) {
			valid = append(valid, ed)
		}
	}
	if latest := event.LatestEdit(valid); latest != nil {
		if nc, ok := event.NewContent(latest.Content); ok {
			content = event.ApplyEdit(e.Content, nc)
			sh.edited, sh.editedAt = true, latest.OriginTS
		}
	}
	msg, err := event.ParseMessage(content)
	if err != nil {
		// Stored but undisplayable content (a wrong-typed field): show that
		// plainly instead of failing the whole page.
		msg = event.Message{MsgType: "m.text", Body: "(this message could not be displayed)"}
	}
	sh.msg = msg
	sh.reactions = aggregateReactions(ix.reactions[e.ID])
	sh.reactionsCapped = len(ix.reactions[e.ID]) >= store.MaxRelated
	for _, t := range ix.thread[e.ID] {
		sh.thread.Count++
		sh.thread.LastTS = max(sh.thread.LastTS, t.OriginTS)
	}
	sh.thread.More = sh.thread.Count >= store.MaxRelated
	return sh, nil
}

// maxReactionKey bounds a reaction key as displayed.
const maxReactionKey = 64

// aggregateReactions counts reactions per key, once per sender and key.
func aggregateReactions(rs []store.Event) []reaction {
	var out []reaction
	index := map[string]int{}
	seen := map[string]bool{}
	for _, r := range rs {
		key := r.Rel.Key
		if key == "" || seen[string(r.Sender)+"\x00"+key] {
			continue
		}
		seen[string(r.Sender)+"\x00"+key] = true
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, reaction{Key: truncateRunes(key, maxReactionKey)})
		}
		out[i].Count++
		out[i].Senders = append(out[i].Senders, displayName(r.SenderName, r.Sender))
	}
	return out
}

func displayName(name string, user id.UserID) string {
	if strings.TrimSpace(name) != "" {
		return name
	}
	return string(user)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// excerpt is a one-line preview of a message's text.
func excerpt(text string, n int) string {
	return truncateRunes(strings.Join(strings.Fields(text), " "), n)
}

// Views. Each page has its own typed view; these are the shared parts.

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
	if rs, err := s.store.RoomSync(ctx, r.ID); err == nil && !rs.ReachedCreate && !rs.CompleteFrom.IsZero() {
		return fmt.Sprintf("The archive holds this room's history from %s on; earlier messages were not archived.",
			rs.CompleteFrom.Format("2 January 2006, 15:04 UTC"))
	}
	return ""
}

func (s *Server) roomView(ctx context.Context, r store.Room) roomView {
	v := roomView{
		Room: r, Name: roomName(r), Alias: r.Alias, ID: string(r.ID),
		Topic: s.render.Plain(r.Topic), Path: roomPath(r), MessageCount: r.MessageCount,
		MatrixTo: event.MatrixToRoom(string(r.ID), s.viaServers(ctx, r)),
	}
	if r.LastTS > 0 {
		v.LastActivity = time.UnixMilli(r.LastTS).UTC().Format("2006-01-02 15:04 UTC")
	}
	if first, _ := utf8.DecodeRuneInString(strings.TrimLeft(v.Name, "#!@")); first != utf8.RuneError {
		v.Initial = strings.ToUpper(string(first))
	}
	if r.Predecessor == "" {
		// A channel's IRC history linked to this room (store/links.go).
		if p, err := s.store.ImportedPredecessor(ctx, r.ID); err == nil {
			r.Predecessor = p
		}
	}
	for _, link := range []struct {
		id  id.RoomID
		dst *string
	}{{r.Predecessor, &v.Predecessor}, {r.Successor, &v.Successor}} {
		if link.id == "" {
			continue
		}
		if other, err := s.store.Room(ctx, link.id); err == nil && other.Shown() {
			*link.dst = roomPath(other)
		}
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
	ID         string
	Permalink  string
	MatrixTo   string
	Time       string
	DateTime   string
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
	// ReactionsCapped is store.MaxRelated when only that many reactions
	// were counted, else 0.
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

func fmtTime(ms int64) (short, iso string) {
	t := time.UnixMilli(ms).UTC()
	return t.Format(timeLayout), t.Format(time.RFC3339)
}

func fmtStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// timeline builds a page's items from its events, queueing the message
// bodies on q. On a thread's own page (threadPage) thread replies are shown
// in full, elsewhere compactly.
func (s *Server) timeline(ctx context.Context, r store.Room, evs []store.Event, highlight id.EventID, threadPage bool, q *renderQueue) ([]itemView, error) {
	msgs, err := s.shownMessages(ctx, evs)
	if err != nil {
		return nil, err
	}
	parents, err := s.replyParents(ctx, evs, msgs)
	if err != nil {
		return nil, err
	}
	polls, err := s.polls(ctx, r, evs, highlight)
	if err != nil {
		return nil, err
	}
	via := s.viaServers(ctx, r)
	var items []itemView
	for _, e := range evs {
		if pv, ok := polls[e.ID]; ok {
			items = append(items, itemView{Poll: pv})
			continue
		}
		if sh, ok := msgs[e.ID]; ok {
			mv := s.messageView(r, sh, parents, via, highlight, threadPage, q)
			items = append(items, itemView{Message: mv})
			continue
		}
		if !e.IsState() {
			continue
		}
		sv, err := s.stateView(ctx, r, e)
		if err != nil {
			return nil, err
		}
		if sv == nil {
			continue
		}
		sv.Highlight = e.ID == highlight
		if sv.member {
			if n := len(items); n > 0 && items[n-1].Members != nil {
				run := items[n-1].Members
				run.Changes = append(run.Changes, sv)
				run.Open = run.Open || sv.Highlight
				continue
			}
			items = append(items, itemView{Members: &memberRunView{Changes: []*stateView{sv}, Open: sv.Highlight}})
			continue
		}
		items = append(items, itemView{State: sv})
	}
	for _, it := range items {
		if it.Members != nil {
			it.Members.Summary = summarizeMembers(it.Members.Changes)
		}
	}
	return items, nil
}

func summarizeMembers(changes []*stateView) string {
	counts := map[string]int{}
	var order []string
	for _, c := range changes {
		if counts[c.summary] == 0 {
			order = append(order, c.summary)
		}
		counts[c.summary]++
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

// replyParents loads the messages replied to, with their displayed form.
func (s *Server) replyParents(ctx context.Context, evs []store.Event, msgs map[id.EventID]*shown) (map[id.EventID]*shown, error) {
	parents := map[id.EventID]*shown{}
	var missing []id.EventID
	childRoom := map[id.EventID]id.RoomID{}
	for _, sh := range msgs {
		p := sh.ev.Rel.ReplyTo
		if p == "" {
			continue
		}
		childRoom[p] = sh.ev.RoomID
		if ps, ok := msgs[p]; ok {
			parents[p] = ps
		} else if _, queued := parents[p]; !queued {
			parents[p] = nil
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return parents, nil
	}
	found, err := s.store.EventsByID(ctx, missing)
	if err != nil {
		return nil, err
	}
	var public []store.Event
	for _, f := range found {
		// A reply can only quote its own room: a parent elsewhere (perhaps
		// in a hidden room) is treated as not archived.
		if f.Public && f.RoomID == childRoom[f.ID] {
			public = append(public, f)
		}
	}
	more, err := s.shownMessages(ctx, public)
	if err != nil {
		return nil, err
	}
	for k, v := range more {
		parents[k] = v
	}
	return parents, nil
}

// messageView is one message as shown, its body and excerpts queued on q.
// In the main timeline (not on its thread's page) a thread reply is
// compact: one line with an excerpt, so only the excerpt is rendered, and
// otherwise only the body.
func (s *Server) messageView(r store.Room, sh *shown, parents map[id.EventID]*shown, via []string, highlight id.EventID, threadPage bool, q *renderQueue) *messageView {
	e := sh.ev
	v := &messageView{
		ID: string(e.ID), Permalink: eventPath(r, e.ID),
		MatrixTo:   event.MatrixToEvent(string(r.ID), e.ID, via),
		SenderName: displayName(e.SenderName, e.Sender), SenderID: string(e.Sender),
		Highlight: e.ID == highlight, InThread: e.Rel.Type == "m.thread",
		EditsPath: roomPath(r, "event", string(e.ID), "edits"),
	}
	v.Compact = v.InThread && !threadPage
	v.IRC = ircOriginOf(&e)
	if v.InThread {
		v.ThreadPath = roomPath(r, "thread", string(e.Rel.EventID)) + "#" + string(e.ID)
	}
	v.Time, v.DateTime = fmtTime(e.OriginTS)
	v.TS = e.OriginTS
	if sh.redaction != nil {
		v.Kind = "deleted"
		d := &deletedView{Reason: sh.redaction.Reason, AppliedAt: fmtStamp(sh.redaction.AppliedAt)}
		switch {
		case sh.redaction.Kind == store.RedactionOptOut:
			d = &deletedView{Notice: deletedOptOut}
		case sh.redaction.Kind == store.RedactionTakedown:
			d.Notice = deletedTakedown
		}
		if sh.redaction.Sender != "" {
			d.By = string(sh.redaction.Sender)
			d.At = fmtStamp(sh.redaction.TS)
		}
		v.Deleted = d
		return v
	}
	v.Kind = "text"
	switch sh.msg.MsgType {
	case event.MsgEmote:
		v.Kind = "emote"
	case event.MsgNotice:
		v.Kind = "notice"
	case event.MsgImage, event.MsgFile, event.MsgAudio, event.MsgVideo:
		v.Kind = "media"
	}
	if l, ok := meetingLine(sh); ok && meeting.Starts(l) {
		v.MeetingPath = meetingPath(r, e.ID, "")
	}
	if v.Compact {
		q.text(sh.msg, 100, func(t string) { v.Excerpt = t })
	} else {
		q.html(sh.msg, func(h template.HTML) { v.Body = h })
	}
	if sh.edited {
		v.Edited = true
		v.EditedAt = fmtStamp(time.UnixMilli(sh.editedAt))
	}
	if p := e.Rel.ReplyTo; p != "" {
		rv := &replyView{Permalink: "/event/" + pathSegment(string(p))}
		switch ps := parents[p]; {
		case ps == nil:
			rv.Missing = "a message that is not in the archive"
		case ps.redaction != nil && ps.redaction.Kind == store.RedactionOptOut:
			rv.Missing = "a message " + optOutNotice
			rv.Permalink = eventPath(r, p)
		case ps.redaction != nil:
			rv.Missing = "a deleted message"
			rv.Permalink = eventPath(r, p)
		default:
			rv.SenderName = displayName(ps.ev.SenderName, ps.ev.Sender)
			q.text(ps.msg, 120, func(t string) { rv.Excerpt = t })
			rv.Permalink = eventPath(r, p)
		}
		v.Reply = rv
	}
	v.Reactions = sh.reactions
	if sh.reactionsCapped {
		v.ReactionsCapped = store.MaxRelated
	}
	if sh.thread.Count > 0 {
		v.Thread = &threadView{Path: roomPath(r, "thread", string(e.ID)), Count: sh.thread.Count, More: sh.thread.More, LastAt: fmtStamp(time.UnixMilli(sh.thread.LastTS))}
		_, v.Thread.LastISO = fmtTime(sh.thread.LastTS)
	}
	return v
}

// stateView describes a state change as one line, or returns nil for state
// that is noise to readers (power levels, join rules, ACLs…).
func (s *Server) stateView(ctx context.Context, r store.Room, e store.Event) (*stateView, error) {
	who := displayName(e.SenderName, e.Sender)
	v := &stateView{ID: string(e.ID), Permalink: eventPath(r, e.ID)}
	v.Time, v.DateTime = fmtTime(e.OriginTS)
	v.TS = e.OriginTS
	str := func(k string) string { return event.StringField(e.Content, k) }
	switch e.Type {
	case event.TypeCreate:
		v.Text = who + " created the room."
	case event.TypeName:
		if n := str("name"); n != "" {
			v.Text = fmt.Sprintf("%s changed the room name to “%s”.", who, n)
		} else {
			v.Text = who + " removed the room name."
		}
	case event.TypeTopic:
		if t := str("topic"); t != "" {
			v.Text = fmt.Sprintf("%s changed the topic to “%s”.", who, excerpt(t, 300))
		} else {
			v.Text = who + " removed the topic."
		}
	case event.TypeAvatar:
		v.Text = who + " changed the room avatar."
	case event.TypeCanonicalAlias:
		if a := str("alias"); a != "" {
			v.Text = fmt.Sprintf("%s set the room's main address to %s.", who, a)
		} else {
			return nil, nil
		}
	case event.TypeHistoryVisibility:
		if str("history_visibility") == "world_readable" {
			v.Text = who + " made the room's history readable by anyone (it is archived from here on)."
		} else {
			v.Text = who + " made the room's history private (the archive stops recording here)."
		}
	case event.TypeTombstone:
		v.Text = who + " upgraded this room."
		if succ := id.RoomID(str("replacement_room")); succ != "" {
			if other, err := s.store.Room(ctx, succ); err == nil && other.Shown() {
				v.Link, v.LinkText = roomPath(other), "Continue in the new room"
			}
		}
	case event.TypeMember:
		return s.memberView(ctx, e, v)
	default:
		return nil, nil
	}
	return v, nil
}

func (s *Server) memberView(ctx context.Context, e store.Event, v *stateView) (*stateView, error) {
	v.member = true
	target := id.UserID(*e.StateKey)
	name := event.StringField(e.Content, "displayname")
	membership := event.StringField(e.Content, "membership")
	prev, err := s.store.PreviousState(ctx, e)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	prevMembership := event.StringField(prev, "membership")
	prevName := event.StringField(prev, "displayname")
	subject := displayName(name, target)
	sender := displayName(e.SenderName, e.Sender)
	switch membership {
	case "join":
		switch {
		case prevMembership == "join" && prevName != name && name == "":
			v.Text, v.summary = fmt.Sprintf("%s removed their display name (%s).", displayName(prevName, target), target), "changed their name"
		case prevMembership == "join" && prevName != name:
			v.Text, v.summary = fmt.Sprintf("%s changed their display name to %s.", displayName(prevName, target), name), "changed their name"
		case prevMembership == "join":
			v.Text, v.summary = subject+" changed their avatar.", "changed their avatar"
		default:
			v.Text, v.summary = subject+" joined.", "joined"
		}
	case "leave":
		leaver := displayName(cmp.Or(prevName, name), target)
		nick := ircNickChange(&e)
		switch {
		case nick != nil:
			v.Text, v.summary = fmt.Sprintf("%s is now known as %s.", nick.Nick, nick.NewNick), "changed their name"
		case prevMembership == "ban":
			v.Text, v.summary = fmt.Sprintf("%s unbanned %s.", sender, leaver), "were unbanned"
		case e.Sender != target:
			v.Text, v.summary = fmt.Sprintf("%s removed %s.", sender, leaver), "were removed"
		case prevMembership == "invite":
			v.Text, v.summary = leaver+" declined the invitation.", "declined"
		default:
			v.Text, v.summary = leaver+" left.", "left"
		}
	case "ban":
		v.Text, v.summary = fmt.Sprintf("%s banned %s.", sender, displayName(prevName, target)), "were banned"
	case "invite":
		v.Text, v.summary = fmt.Sprintf("%s invited %s.", sender, subject), "were invited"
	case "knock":
		v.Text, v.summary = subject+" asked to join.", "asked to join"
	default:
		return nil, nil
	}
	if r := event.StringField(e.Content, "reason"); r != "" && membership != "join" {
		v.Text += " Reason: " + excerpt(r, 200)
	}
	return v, nil
}
