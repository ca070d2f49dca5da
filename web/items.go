package web

import (
	"bytes"
	"crypto/rand"
	"errors"
	"html/template"
	"net/url"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

// A timeline's items (day, thread and permalink pages, the live
// fragment) are written by Go code rather than a template: a day page
// holds hundreds of them, and executing an item template cost a
// 500-message page more than loading it (reflection for every field and
// every escaper). The markup is the one the item template had, byte for
// byte (TestGoldenPages), and every value is escaped as html/template
// escapes it in the same place (render.Markup). A page's template holds
// their place (pageItems) and execPage writes them there.

// timelineItems is the HTML of items.
func timelineItems(items []itemView) template.HTML {
	m := timelineMarkup(items)
	return m.Result()
}

// itemsMarker holds a page's place for its timeline's items while its
// template executes (pageItems); execPage writes the items there. No value
// a template prints can be taken for it: "<" is escaped in every escaped
// value, and its random part, drawn at start and never sent, cannot be
// guessed by whoever writes a room's topic or name.
var itemsMarker = "<!--mxarchive:items:" + rand.Text() + "-->"

// itemsSplice is a page execution's timeline, set by pageItems.
type itemsSplice struct {
	items []itemView
	set   bool
}

// pageItems is the page templates' "pageItems": the place of the page's
// timeline, whose items execPage writes there itself. Printed by the
// template, the timeline (400 KB for a day of 1,000 messages) was copied
// three times more (into a string, into fmt's buffer, into the growing
// page), half of the bytes a day page's first request allocated. A
// second timeline in one page, or one without a splice, is printed.
func pageItems(pd pageData, items []itemView) template.HTML {
	if pd.splice == nil || pd.splice.set {
		return timelineItems(items)
	}
	pd.splice.items, pd.splice.set = items, true
	return template.HTML(itemsMarker)
}

// spliceItems writes items in the place of itemsMarker in the executed
// page, in a lent buffer: the page is sent from it, and the render cache
// keeps it packed (packBody).
func spliceItems(page []byte, items []itemView) (respBody, error) {
	i := bytes.Index(page, []byte(itemsMarker))
	if i < 0 {
		return respBody{}, errors.New("the page's timeline has no place in it")
	}
	return buildLent(len(page)+itemsSize(items), func(b []byte) ([]byte, error) {
		m := render.MarkupOn(append(b, page[:i]...))
		writeItems(m, items)
		return append(m.Bytes(), page[i+len(itemsMarker):]...), nil
	})
}

// timelineMarkup writes items.
func timelineMarkup(items []itemView) *render.Markup {
	var m render.Markup
	writeItems(&m, items)
	return &m
}

// itemsSize guesses the length of items' markup.
func itemsSize(items []itemView) int {
	size := 0
	for _, it := range items {
		size += 900 // an item's markup and values, as a day page averages
		if it.Message != nil {
			size += len(it.Message.Body)
		}
	}
	return size
}

// writeItems writes items to m.
func writeItems(m *render.Markup, items []itemView) {
	m.Grow(itemsSize(items))
	for i := range items {
		writeItem(m, &items[i])
	}
}

func writeItem(m *render.Markup, it *itemView) {
	m.Lit("\n")
	if v := it.Message; v != nil {
		m.Lit("\n")
		if v.Compact {
			writeCompact(m, v)
		} else {
			writeMessage(m, v)
		}
		m.Lit("\n")
	}
	m.Lit("\n")
	if it.Poll != nil {
		writePoll(m, it.Poll)
	}
	m.Lit("\n")
	if v := it.State; v != nil {
		m.Lit("\n  <li class=\"state")
		endItemClass(m, v.Highlight, v.ID)
		m.Lit("\n    <a class=\"time\" href=\"")
		m.URL(v.Permalink)
		m.Lit("\">")
		writeTime(m, v.DateTime, v.TS, v.Time)
		m.Lit("</a>\n    <span class=\"text\">")
		writeStateText(m, v)
		m.Lit("</span>")
		if v.Link != "" {
			m.Lit(" <a href=\"")
			m.URL(v.Link)
			m.Lit("\">")
			m.Text(v.LinkText)
			m.Lit("</a>")
		}
		m.Lit("\n  </li>\n")
	}
	m.Lit("\n")
	if v := it.Members; v != nil {
		m.Lit("\n  <li class=\"members\">\n    <details")
		if v.Open {
			m.Lit(" open")
		}
		m.Lit(">\n      <summary>")
		m.Text(v.Summary)
		m.Lit("</summary>\n      <ol>\n      ")
		for _, c := range v.Changes {
			m.Lit("<li class=\"state")
			endItemClass(m, c.Highlight, c.ID)
			m.Lit("<a class=\"time\" href=\"")
			m.URL(c.Permalink)
			m.Lit("\">")
			writeTime(m, c.DateTime, c.TS, c.Time)
			m.Lit("</a> ")
			writeStateText(m, c)
			m.Lit("</li>")
		}
		m.Lit("\n      </ol>\n    </details>\n  </li>\n")
	}
	m.Lit("\n")
}

// writeTime is an item's time element.
func writeTime(m *render.Markup, dateTime string, ts int64, short string) {
	m.Lit("<time datetime=\"")
	m.Text(dateTime)
	m.Lit("\" data-ts=\"")
	m.Int(ts)
	m.Lit("\" data-fmt=\"time\">")
	m.Text(short)
	m.Lit("</time>")
}

// writePermalinkTime is a message's time, linking to its permalink.
func writePermalinkTime(m *render.Markup, permalink, dateTime string, ts int64, short string) {
	m.Lit("\n    <a class=\"time\" href=\"")
	m.URL(permalink)
	m.Lit("\" title=\"Permalink\">")
	writeTime(m, dateTime, ts, short)
	m.Lit("</a>\n    ")
}

// writeTimeAt is an item's time element for ts (UTC ms), as writeTime
// writes fmtTime's strings, without making them.
func writeTimeAt(m *render.Markup, ts int64) {
	t := time.UnixMilli(ts).UTC()
	m.Lit("<time datetime=\"")
	m.TextTime(t, time.RFC3339)
	m.Lit("\" data-ts=\"")
	m.Int(ts)
	m.Lit("\" data-fmt=\"time\">")
	m.TextTime(t, timeLayout)
	m.Lit("</time>")
}

// writeMessageTime is writePermalinkTime for a message, from its room's
// links, its ID and its time.
func writeMessageTime(m *render.Markup, v *messageView) {
	m.Lit("\n    <a class=\"time\" href=\"")
	m.URLJoin(v.links.prefix, pathSegment(v.ID), "")
	m.Lit("\" title=\"Permalink\">")
	writeTimeAt(m, v.TS)
	m.Lit("</a>\n    ")
}

// writeMeta is a message's Matrix ID and matrix.to link (none for a line
// imported from IRC, which no homeserver knows).
func writeMeta(m *render.Markup, v *messageView) {
	m.Lit("\n    <span class=\"meta\"><span class=\"mxid\">")
	m.Text(v.SenderID)
	if fromIRC(id.EventID(v.ID)) {
		m.Lit("</span></span>\n")
		return
	}
	m.Lit("</span> · <a class=\"matrixto\" href=\"")
	m.URLJoin(v.links.toPrefix, url.PathEscape(v.ID), v.links.toQuery)
	m.Lit("\" rel=\"nofollow\" title=\"Open this message in a Matrix client\">matrix.to</a></span>\n")
}

// writeCompact is a thread reply in the main timeline: one line.
func writeCompact(m *render.Markup, v *messageView) {
	m.Lit("\n  <li class=\"msg compact")
	endItemClass(m, v.Highlight, v.ID)
	writeMessageTime(m, v)
	m.Lit("<a class=\"thread-reply\" href=\"")
	m.URL(v.ThreadPath)
	m.Lit("\">↳ ")
	openSender(m, v.SenderID)
	m.Text(v.SenderName)
	m.Lit("</span> replied in a thread")
	if v.Excerpt != "" {
		m.Lit(": <span class=\"excerpt\" dir=\"auto\">")
		m.Text(v.Excerpt)
		m.Lit("</span>")
	}
	m.Lit("</a>")
	writeMeta(m, v)
	m.Lit("  </li>\n")
}

// writeMessage is a message in full.
func writeMessage(m *render.Markup, v *messageView) {
	m.Lit("\n  <li class=\"msg ")
	m.Text(v.Kind)
	if v.Highlight {
		m.Lit(" highlight")
	}
	if v.InThread {
		m.Lit(" in-thread")
	}
	m.Lit("\" id=\"")
	m.Text(v.ID)
	m.Lit("\">")
	writeMessageTime(m, v)
	openSender(m, v.SenderID)
	if v.Kind == "emote" {
		m.Lit("* ")
	}
	m.Text(v.SenderName)
	m.Lit("</span>")
	if o := v.IRC; o != nil {
		m.Lit(" <span class=\"irc-origin\" title=\"from the IRC channel ")
		m.Text(o.Channel)
		m.Lit(" on ")
		m.Text(o.Network)
		m.Lit(": ")
		m.Text(o.Source)
		m.Lit(", line ")
		m.Int(int64(o.Line))
		m.Lit("\">IRC</span>")
	}
	writeMeta(m, v)
	m.Lit("    ")
	if r := v.Reply; r != nil {
		m.Lit("<a class=\"reply-to\" href=\"")
		m.URL(r.Permalink)
		m.Lit("\">↪ In reply to ")
		if r.Missing != "" {
			m.Text(r.Missing)
		} else {
			m.Lit("<span class=\"reply-sender\" dir=\"auto\">")
			m.Text(r.SenderName)
			m.Lit("</span>: <span class=\"reply-excerpt\" dir=\"auto\">")
			m.Text(r.Excerpt)
			m.Lit("</span>")
		}
		m.Lit("</a>")
	}
	m.Lit("\n    ")
	if d := v.Deleted; d != nil {
		m.Lit("\n    <div class=\"body deleted\">")
		if d.Notice != "" {
			m.Text(d.Notice)
		} else {
			m.Lit("Message deleted")
		}
		if d.By != "" {
			m.Lit(" by <bdi>")
			m.Text(d.By)
			m.Lit("</bdi>")
		}
		if d.At != "" {
			m.Lit(" at <time>")
			m.Text(d.At)
			m.Lit("</time>")
		}
		if d.Reason != "" {
			m.Lit(": “<bdi>")
			m.Text(d.Reason)
			m.Lit("</bdi>”")
		}
		m.Lit(".")
		if d.AppliedAt != "" {
			m.Lit(" <span class=\"applied\">The archive applied the deletion at <time>")
			m.Text(d.AppliedAt)
			m.Lit("</time>.</span>")
		}
		m.Lit("</div>\n    ")
	} else {
		m.Lit("\n    <div class=\"body\" dir=\"auto\">")
		m.HTML(v.Body)
		if v.MeetingPath != "" {
			m.Lit(" <a class=\"meeting-start\" href=\"")
			m.URL(v.MeetingPath)
			m.Lit("\">(meeting minutes)</a>")
		}
		if v.Edited {
			m.Lit(" <a class=\"edited\" href=\"")
			m.URL(v.EditsPath)
			m.Lit("\" title=\"edited at ")
			m.Text(v.EditedAt)
			m.Lit("; see the edit history\">(edited)</a>")
		}
		m.Lit("</div>\n    ")
	}
	m.Lit("\n    ")
	if len(v.Reactions) > 0 {
		m.Lit("<ul class=\"reactions\">")
		for _, r := range v.Reactions {
			// The key and each name are isolated (dir="auto"; <bdi>):
			// a key or name that holds a right-to-left override turned
			// the count, and the names after it, around. Each name is
			// titled with its sender's user ID, as a message's sender
			// is (openSender): names alone let @mallory, joined as
			// "Ann", pass for the room's Ann.
			m.Lit("<li><details><summary><span class=\"key\" dir=\"auto\">")
			m.Text(r.Key)
			m.Lit("</span> <span class=\"n\">")
			m.Int(int64(r.Count))
			m.Lit("</span></summary><span class=\"who\">")
			for i, s := range r.Senders {
				if i > 0 {
					m.Lit(", ")
				}
				m.Lit("<bdi title=\"")
				m.Text(r.SenderIDs[i])
				m.Lit("\">")
				m.Text(s)
				m.Lit("</bdi>")
			}
			m.Lit("</span></details></li>")
		}
		m.Lit("</ul>")
	}
	m.Lit("\n    ")
	if v.ReactionsCapped != 0 {
		m.Lit("<p class=\"capped\">Only the latest ")
		m.Int(int64(v.ReactionsCapped))
		m.Lit(" reactions are counted.</p>")
	}
	m.Lit("\n    ")
	if t := v.Thread; t != nil {
		m.Lit("<p class=\"thread\"><a href=\"")
		m.URL(t.Path)
		m.Lit("\">")
		m.Int(int64(t.Count))
		if t.More {
			m.Lit("+")
		}
		if t.Count == 1 {
			m.Lit(" reply")
		} else {
			m.Lit(" replies")
		}
		m.Lit(" in thread</a>, last at <time datetime=\"")
		m.Text(t.LastISO)
		m.Lit("\">")
		m.Text(t.LastAt)
		m.Lit("</time></p>")
	}
	m.Lit("\n  </li>\n")
}

// writePoll is a poll with its answers and, when shown, their votes.
func writePoll(m *render.Markup, v *pollView) {
	m.Lit("\n  <li class=\"msg poll")
	endItemClass(m, v.Highlight, v.ID)
	writePermalinkTime(m, v.Permalink, v.DateTime, v.TS, v.Time)
	openSender(m, v.SenderID)
	m.Text(v.SenderName)
	if v.Invalid {
		m.Lit("</span>\n    <div class=\"body poll-body\">\n      <p class=\"question\"><span class=\"poll-label\">Poll:</span> <em class=\"poll-invalid\">")
		m.Lit(invalidPoll)
		m.Lit("</em></p>\n    </div>\n  </li>\n")
		return
	}
	m.Lit("</span>\n    <div class=\"body poll-body\">\n      <p class=\"question\"><span class=\"poll-label\">Poll:</span> <span dir=\"auto\">")
	m.Text(v.Question)
	m.Lit("</span></p>\n      <ol class=\"answers\">")
	for _, a := range v.Answers {
		m.Lit("<li class=\"answer")
		if a.Winner {
			m.Lit(" winner")
		}
		m.Lit("\"><span class=\"answer-text\" dir=\"auto\">")
		m.Text(a.Text)
		m.Lit("</span>")
		if v.ShowVotes {
			m.Lit(" <span class=\"votes\">")
			m.Int(int64(a.Votes))
			if a.Votes == 1 {
				m.Lit(" vote (")
			} else {
				m.Lit(" votes (")
			}
			m.Int(int64(a.Percent))
			m.Lit("%)</span>")
		}
		if a.Winner {
			m.Lit(" <span class=\"winner-mark\">✓ chosen</span>")
		}
		m.Lit("</li>")
	}
	m.Lit("</ol>\n      <p class=\"poll-status\">")
	switch {
	case v.Ended:
		m.Lit("Ended at <time>")
		m.Text(v.EndedAt)
		m.Lit("</time> · ")
		writeVoters(m, v.Voters)
	case v.ShowVotes:
		m.Lit("Open · ")
		writeVoters(m, v.Voters)
		m.Lit(" so far")
	default:
		m.Lit("Open · results are shown when the poll ends")
	}
	if v.Capped {
		m.Lit(" · only the votes of the first ")
		m.Int(store.MaxPollVoters)
		m.Lit(" voters by user ID were counted")
	}
	if v.Oversized {
		m.Lit(" · ")
		m.Text(oversizedVotes)
	}
	m.Lit("</p>\n    </div>\n  </li>\n")
}

func writeVoters(m *render.Markup, n int) {
	m.Int(int64(n))
	if n == 1 {
		m.Lit(" voter")
	} else {
		m.Lit(" voters")
	}
}

// endItemClass ends a timeline item's class attribute: the highlight a
// permalink asks for, then the item's id, and closes the tag.
func endItemClass(m *render.Markup, highlight bool, id string) {
	if highlight {
		m.Lit(" highlight")
	}
	m.Lit("\" id=\"")
	m.Text(id)
	m.Lit("\">")
}

// openSender opens the span of a sender's name, titled with its user ID.
func openSender(m *render.Markup, senderID string) {
	m.Lit("<span class=\"sender\" dir=\"auto\" title=\"")
	m.Text(senderID)
	m.Lit("\">")
}

// writeStateText is a state line's text, what users wrote in it each in a
// <bdi> of its own.
func writeStateText(m *render.Markup, v *stateView) {
	at := 0
	for _, u := range v.user {
		m.Text(v.Text[at:u[0]])
		m.Lit("<bdi>")
		m.Text(v.Text[u[0]:u[1]])
		m.Lit("</bdi>")
		at = u[1]
	}
	m.Text(v.Text[at:])
}
