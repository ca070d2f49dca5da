package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/meeting"
	"github.com/mxarchive/mxarchive/store"
)

// Building views from loaded data (load.go): pure functions, no store
// calls, so a page costs the same queries whatever its events are.

// shownOne sets *sh to the message e as shown, from its related events
// (rel) and the redactions of the page's messages.
func shownOne(sh *shown, e *store.Event, rel []store.Event, redactions map[id.EventID]store.Redaction, capped bool) {
	*sh = shown{ev: *e}
	if e.OptedOut {
		r := store.OptOutRedaction(*e)
		sh.redaction = &r
		return
	}
	if e.Redacted {
		r := redactions[e.ID] // zero when unknown: still shown as deleted
		sh.redaction = &r
		return
	}
	res := resolve(&sh.ev, rel)
	sh.msg, sh.edited, sh.editedAt = res.Message, res.Edited, res.EditedAt
	sh.src = sh.ev.Raw
	if res.Edited && len(res.Edits) > 0 {
		sh.src = rel[res.Edits[len(res.Edits)-1]].Raw
	}
	if res.Err != nil {
		// Stored but undisplayable content (a wrong-typed field): show that
		// plainly instead of failing the whole page.
		sh.msg = event.Message{MsgType: "m.text", Body: "(this message could not be displayed)"}
	}
	for _, r := range res.Reactions {
		rv := reaction{Key: truncateRunes(r.Key, maxReactionKey), Count: len(r.Senders)}
		for _, i := range r.Senders {
			// Each name with its sender's ID, as a message's sender is
			// shown: by names alone, @mallory joined as "Ann" reacted
			// as the room's Ann (@a:example.org).
			rv.Senders = append(rv.Senders, displayName(rel[i].SenderName, rel[i].Sender))
			rv.SenderIDs = append(rv.SenderIDs, string(rel[i].Sender))
		}
		sh.reactions = append(sh.reactions, rv)
	}
	if store.RelatedCapped(rel, e.ID, event.RelAnnotation) || capped && res.ReactionsLoaded > 0 {
		sh.reactionsCapped = res.ReactionsLoaded
	}
	if startsThread(sh.ev) { // a thread reply has no replies of its own
		sh.thread = threadSummary{Count: res.ThreadCount, LastTS: res.ThreadLastTS,
			More: store.RelatedCapped(rel, e.ID, event.RelThread) || capped && res.ThreadCount > 0}
	}
}

// maxReactionKey bounds a reaction key as displayed.
const maxReactionKey = 64

// displayName is the name user is shown by: their display name name, cut
// to maxNameRunes (capName), or their user ID where they have none.
func displayName(name string, user id.UserID) string {
	if strings.TrimSpace(name) != "" {
		return capName(name)
	}
	return string(user)
}

// maxNameRunes bounds a display name as shown. A day's reads are bounded
// by their events' JSON, which a sender's name is not part of: one member
// event of a 60,000-letter name, then 500 one-letter messages, made a
// 30 MB day page (and text log), each message repeating the name.
const maxNameRunes = 256

// capName is name cut to its first maxNameRunes runes, at a rune
// boundary, with an ellipsis; it reads no further than that.
func capName(name string) string {
	n := 0
	for i := range name {
		if n == maxNameRunes {
			return name[:i] + "…"
		}
		n++
	}
	return name
}

// attributedName is the name a quote of user's is attributed to where it
// is read apart from the page (a citation, a feed entry, a page's title):
// their display name (displayName), followed by their user ID where the
// name holds anything shaped like a user ID that is not their own, as the
// text log writes it (speakerName): @mallory named "@a:example.org" is not
// @a:example.org.
func attributedName(name string, user id.UserID) string {
	shown := displayName(name, user)
	if shown == string(user) || !holdsUserID(shown) {
		return shown
	}
	return shown + " (" + string(user) + ")"
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

// buildTimeline builds the items of evs from what loadTimeline loaded.
func buildTimeline(r store.Room, evs []store.Event, d timelineData, highlight id.EventID, threadPage bool, q *renderQueue) []itemView {
	var items []itemView
	links := newEventLinks("", r, d.via)
	for _, e := range evs {
		if pv, ok := d.polls[e.ID]; ok {
			items = append(items, itemView{Poll: pv})
			continue
		}
		if sh, ok := d.msgs[e.ID]; ok {
			mv := buildMessage(r, sh, d.parents, d.lostRoots, &links, highlight, threadPage, q)
			items = append(items, itemView{Message: mv})
			continue
		}
		if !e.IsState() {
			continue
		}
		sv := buildState(r, e, d, &links)
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
	return items
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

// buildMessage is one message as shown, its body and excerpts queued on q.
// In the main timeline (not on its thread's page) a thread reply is
// compact: one line with an excerpt, so only the excerpt is rendered, and
// otherwise only the body. A reply whose thread has no page (its root is
// among lostRoots) is shown as a message.
func buildMessage(r store.Room, sh *shown, parents map[id.EventID]*shown, lostRoots map[id.EventID]bool, links *eventLinks, highlight id.EventID, threadPage bool, q *renderQueue) *messageView {
	e := sh.ev
	v := &messageView{
		ID: string(e.ID), links: links,
		SenderName: displayName(e.SenderName, e.Sender), SenderID: string(e.Sender),
		Highlight: e.ID == highlight, InThread: e.Rel.Type == event.RelThread && !lostRoots[e.Rel.EventID],
	}
	v.Compact = v.InThread && !threadPage
	v.IRC = ircOriginOf(&e)
	if v.InThread {
		// The fragment path-escaped, as the permalink's whole-day link's
		// (archive.js and a browser decode it).
		v.ThreadPath = roomPath(r, "thread", string(e.Rel.EventID)) + "#" + url.PathEscape(string(e.ID))
	}
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
		q.htmlTo(sh.msg, &v.Body)
	}
	if sh.edited {
		v.Edited = true
		v.EditedAt = fmtStamp(time.UnixMilli(sh.editedAt))
		v.EditsPath = roomPath(r, "event", string(e.ID), "edits")
	}
	if p := e.Rel.ReplyTo; p != "" {
		rv := &replyView{Permalink: "/event/" + pathSegment(string(p))}
		switch ps := parents[p]; {
		case ps == nil:
			rv.Missing = "a message that is not in the archive"
		case ps.notMessage:
			// Its permalink shows what it is (an edit's leads to the
			// message it edits).
			rv.Missing = "an event that is not a message"
			if ps.ev.Rel.Type == event.RelReplace {
				rv.Missing = "an edit of a message"
			}
			rv.Permalink = links.permalink(p)
		case ps.redaction != nil && ps.redaction.Kind == store.RedactionOptOut:
			rv.Missing = "a message " + optOutNotice
			rv.Permalink = links.permalink(p)
		case ps.redaction != nil:
			rv.Missing = "a deleted message"
			rv.Permalink = links.permalink(p)
		default:
			rv.SenderName = displayName(ps.ev.SenderName, ps.ev.Sender)
			q.quote(p, ps.msg, 120, func(t string) { rv.Excerpt = t })
			rv.Permalink = links.permalink(p)
		}
		v.Reply = rv
	}
	v.Reactions = sh.reactions
	v.ReactionsCapped = sh.reactionsCapped
	if sh.thread.Count > 0 {
		v.Thread = &threadView{Path: roomPath(r, "thread", string(e.ID)), Count: sh.thread.Count, More: sh.thread.More, LastAt: fmtStamp(time.UnixMilli(sh.thread.LastTS))}
		_, v.Thread.LastISO = fmtTime(sh.thread.LastTS)
	}
	return v
}

// buildState describes a state change as one line, or returns nil for state
// that is noise to readers (power levels, join rules, ACLs…). r is the
// page's room.
//
// Each person a line names is written with their user ID (person), as a
// message's sender is shown with theirs: "Ann joined." said nothing of
// which Ann, and @mallory named "Ann" joined as the room's admin did.
//
// A redacted event's line says that it was deleted, and only what its
// redacted form still says: the redaction strips a room name's or a
// topic's content, and "Ann removed the room name." told of an act Ann
// never did. A member event keeps its membership (a join redacted is still
// a join) and the history's visibility its setting, which stay in effect.
func buildState(r store.Room, e store.Event, d timelineData, links *eventLinks) *stateView {
	v := &stateView{ID: string(e.ID), Permalink: links.permalink(e.ID)}
	v.Time, v.DateTime = fmtTime(e.OriginTS)
	v.TS = e.OriginTS
	who := personOf(&e, e.SenderName, e.Sender)
	str := func(k string) string { return event.StringField(e.Content, k) }
	if e.Type != event.TypeMember && (e.StateKey == nil || *e.StateKey != "") {
		// The room's name, topic and the rest are its state of key ""
		// (the room's header reads no other): one of another key changes
		// nothing, and was shown as if it renamed the room.
		return nil
	}
	if words, ok := redactedStateWords[e.Type]; ok && e.Redacted {
		// What the event changed is gone: the line says what it was a
		// change of, and by whom.
		v.line(words[0], who, words[1])
		return v
	}
	switch e.Type {
	case event.TypeCreate:
		v.line(who, " created the room.")
	case event.TypeName:
		if n := str("name"); n != "" {
			v.line(who, " changed the room name to “", userText(n), "”.")
		} else {
			v.line(who, " removed the room name.")
		}
	case event.TypeTopic:
		if t := str("topic"); t != "" {
			v.line(who, " changed the topic to “", userText(excerpt(t, 300)), "”.")
		} else {
			v.line(who, " removed the topic.")
		}
	case event.TypeAvatar:
		v.line(who, " changed the room avatar.")
	case event.TypeCanonicalAlias:
		if a := str("alias"); a != "" {
			v.line(who, " set the room's main address to ", userText(a), ".")
		} else {
			return nil
		}
	case event.TypeHistoryVisibility:
		if str("history_visibility") == "world_readable" {
			v.line(who, " made the room's history readable by anyone (it is archived from here on).")
		} else {
			v.line(who, " made the room's history private (the archive stops recording here).")
		}
	case event.TypeTombstone:
		v.line(who, " upgraded this room.")
		// The new room is linked only where the upgrade is attested both
		// ways: its create event names this room as its predecessor (or,
		// for a room an IRC import made, the operator linked it). Anyone
		// can send a tombstone naming any room.
		if succ := id.RoomID(str("replacement_room")); succ != "" {
			if other, ok := d.successors[succ]; ok && (other.Predecessor == r.ID || fromIRC(e.ID) && ircRoom(r)) {
				v.Link, v.LinkText = roomPath(other), "Continue in the new room"
			}
		}
	case event.TypeMember:
		v = buildMember(e, v, d.prevMember[e.ID])
	default:
		return nil
	}
	if v != nil && e.Redacted {
		v.line(" This event was later deleted.")
	}
	return v
}

// userText is what a user wrote (a name, the room's name or topic, an
// address, a reason) in a state line (stateView.line).
type userText string

// redactedStateWords are the words around the sender of a redacted
// state event whose content the redaction strips whole (buildState).
var redactedStateWords = map[string][2]string{
	event.TypeName:           {"A change of the room name by ", " was deleted."},
	event.TypeTopic:          {"A change of the topic by ", " was deleted."},
	event.TypeAvatar:         {"A change of the room avatar by ", " was deleted."},
	event.TypeCanonicalAlias: {"A change of the room's main address by ", " was deleted."},
	event.TypeTombstone:      {"A notice by ", " that this room was upgraded was deleted."},
}

// person is a person a state line names: their display name (name, "" for
// none) and user ID. The line writes the name (displayName), followed by
// the ID where the name is not the ID itself (noID: a line an IRC import
// made, whose "user IDs" are stand-ins for its nicks).
type person struct {
	name string
	user id.UserID
	noID bool
}

// personOf is the person of name and user in e's line.
func personOf(e *store.Event, name string, user id.UserID) person {
	return person{name: name, user: user, noID: fromIRC(e.ID)}
}

// line appends parts to v's text: the archive's words (a string), what
// users wrote (userText) and people (person), the places of what users
// wrote kept, so that each is written isolated (writeStateText): a display
// name or topic holding a right-to-left override turned "X banned Y" and
// what followed it around.
func (v *stateView) line(parts ...any) {
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			v.Text += p
		case userText:
			v.user = append(v.user, [2]int{len(v.Text), len(v.Text) + len(p)})
			v.Text += string(p)
		case person:
			shown := displayName(p.name, p.user)
			v.line(userText(shown))
			if !p.noID && shown != string(p.user) {
				v.line(" (", idText(p.user), ")")
			}
		}
	}
}

// idText is a user ID in a state line: the archive's words where it is
// printable ASCII, as the user ID grammar has it (nothing in it can turn
// the text around it), else what a user wrote (isolated).
func idText(user id.UserID) any {
	for i := 0; i < len(user); i++ {
		if c := user[i]; c < 0x21 || c > 0x7e {
			return userText(user)
		}
	}
	return string(user)
}

// buildMember words a membership change; prev is the content of the member
// event it replaced (nil for none). A redacted one keeps its membership,
// and loses its display name and reason.
func buildMember(e store.Event, v *stateView, prev json.RawMessage) *stateView {
	v.member = true
	target := id.UserID(*e.StateKey)
	name := event.StringField(e.Content, "displayname")
	membership := event.StringField(e.Content, "membership")
	prevMembership := event.StringField(prev, "membership")
	prevName := event.StringField(prev, "displayname")
	subject := personOf(&e, name, target)
	sender := personOf(&e, e.SenderName, e.Sender)
	switch membership {
	case "join":
		switch {
		case prevMembership == "join" && e.Redacted:
			// Its display name and avatar are gone: what changed is
			// not known.
			v.line(personOf(&e, prevName, target), " updated their profile.")
			v.summary = "updated their profile"
		case prevMembership == "join" && prevName != name && name == "":
			v.line(personOf(&e, prevName, target), " removed their display name.")
			v.summary = "changed their name"
		case prevMembership == "join" && prevName != name:
			v.line(personOf(&e, prevName, target), " changed their display name to ", userText(capName(name)), ".")
			v.summary = "changed their name"
		case prevMembership == "join":
			v.line(subject, " changed their avatar.")
			v.summary = "changed their avatar"
		default:
			v.line(subject, " joined.")
			v.summary = "joined"
		}
	case "leave":
		leaver := personOf(&e, cmp.Or(prevName, name), target)
		nick := ircNickChange(&e)
		switch {
		case nick != nil:
			v.line(userText(nick.Nick), " is now known as ", userText(nick.NewNick), ".")
			v.summary = "changed their name"
		case prevMembership == "ban":
			v.line(sender, " unbanned ", leaver, ".")
			v.summary = "were unbanned"
		case e.Sender != target:
			v.line(sender, " removed ", leaver, ".")
			v.summary = "were removed"
		case prevMembership == "invite":
			v.line(leaver, " declined the invitation.")
			v.summary = "declined"
		default:
			v.line(leaver, " left.")
			v.summary = "left"
		}
	case "ban":
		v.line(sender, " banned ", personOf(&e, prevName, target), ".")
		v.summary = "were banned"
	case "invite":
		v.line(sender, " invited ", subject, ".")
		v.summary = "were invited"
	case "knock":
		v.line(subject, " asked to join.")
		v.summary = "asked to join"
	default:
		return nil
	}
	if r := event.StringField(e.Content, "reason"); r != "" && membership != "join" {
		v.line(" Reason: ", userText(excerpt(r, 200)))
	}
	return v
}
