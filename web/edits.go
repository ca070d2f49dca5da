package web

import (
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

type editsView struct {
	Room      roomView
	Permalink string
	Versions  []versionView
	Capped    int // how many edits are shown when not all are (store.RelatedCapped, latestWithin)
}

type versionView struct {
	Label string
	Time  string
	Body  template.HTML
}

// edits serves a message's edit history: the original and every valid edit
// the archive holds, oldest first. A redacted message has no history to show:
// redacting the original erased its edits too.
func (s *Server) edits(c echo.Context) error {
	ctx := c.Request().Context()
	ev, r, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	if given, _ := param(c, "room"); given != slug(r) {
		return canonicalRedirect(c, roomPath(r, "event", string(ev.ID), "edits"))
	}
	if ev.Rel.Type == event.RelReplace && ev.Rel.EventID != "" {
		// An edit's history is its original's, found as its permalink
		// finds it (messageOf): the edit it names was anyone's to choose,
		// and an edit of itself redirected to itself for ever, two edits
		// naming each other bounced, another sender's "edit" led to a
		// message it does not edit. Those are the permalink's 404.
		target, err := s.messageOf(c, &ev)
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusFound, roomPath(r, "event", string(target), "edits"))
	}
	if ev.Redacted {
		return &httpError{code: http.StatusGone, msg: "This message was deleted, and its edits with it."}
	}
	if !ev.Displayable() {
		return notFound("Only messages have an edit history.")
	}
	related, err := s.store.Related(ctx, []id.EventID{ev.ID})
	if err != nil {
		return err
	}
	res := resolve(&ev, related)
	v := editsView{Room: s.roomView(ctx, r), Permalink: eventPath(r, ev.ID)}
	if store.RelatedCapped(related, ev.ID, event.RelReplace) {
		v.Capped = len(res.Edits)
	}
	// The latest edits within a day page's bytes (latestWithin), each
	// keeping its number.
	first := 0
	if k := latestWithin(len(res.Edits), s.opts.DayPageBytes, func(i int) int { return len(related[res.Edits[i]].Raw) }); k < len(res.Edits) {
		first, v.Capped = len(res.Edits)-k, k
	}
	var msgs []event.Message
	add := func(label string, ts int64, content []byte) {
		msg, err := event.ParseMessage(event.ApplyEdit(ev.Content, content))
		if err != nil {
			msg = event.Message{Body: "(this version could not be displayed)"}
		}
		v.Versions = append(v.Versions, versionView{Label: label, Time: fmtStamp(time.UnixMilli(ts))})
		msgs = append(msgs, msg)
	}
	add("Original", ev.OriginTS, ev.Content)
	for n, i := range res.Edits[first:] {
		e := related[i]
		if nc, ok := event.NewContent(e.Content); ok {
			add(fmt.Sprintf("Edit %d", first+n+1), e.OriginTS, nc)
		}
	}
	// Queued once v.Versions has its final length: the jobs keep pointers
	// into it.
	var q renderQueue
	for i, msg := range msgs {
		q.htmlTo(msg, &v.Versions[i].Body)
	}
	return s.renderValidated(c, http.StatusOK, "edits", v, &q, time.Time{})
}
