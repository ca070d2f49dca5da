package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

const dateLayout = "2006-01-02"

type directoryView struct {
	Rooms []roomView
}

func (s *Server) directory(c echo.Context) error {
	ctx := c.Request().Context()
	rooms, err := s.store.Rooms(ctx)
	if err != nil {
		return err
	}
	v := directoryView{}
	for _, r := range rooms {
		v.Rooms = append(v.Rooms, s.roomView(ctx, r))
	}
	return s.renderPage(c, http.StatusOK, "directory", v)
}

// roomLatest sends a reader to the room's most recent day with messages.
func (s *Server) roomLatest(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if r.LastTS == 0 {
		return notFound("The archive has no public messages of %s yet.", roomName(r))
	}
	day := time.UnixMilli(r.LastTS).UTC().Format(dateLayout)
	return c.Redirect(http.StatusFound, roomPath(r, day))
}

type dayView struct {
	Bot       string
	Day       time.Time // midnight UTC
	Room      roomView
	Date      string
	DateLong  string
	PrevPath  string
	PrevDate  string
	NextPath  string
	NextDate  string
	TextPath  string
	Items     []itemView
	Truncated bool
	Highlight string
	IRC       []ircLogs // the IRC logs lines of the day came from
}

// parseDay parses a YYYY-MM-DD date into the UTC day's [from, to) in ms.
func parseDay(s string) (time.Time, int64, int64, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return time.Time{}, 0, 0, badRequest("%q is not a date; dates look like 2026-03-02 (year-month-day, UTC).", s)
	}
	return t, t.UnixMilli(), t.Add(24 * time.Hour).UnixMilli(), nil
}

func (s *Server) day(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	date, err := param(c, "date")
	if err != nil {
		return err
	}
	if d, ok := strings.CutSuffix(date, ".txt"); ok {
		return s.dayText(c, r, canonical, d)
	}
	if !canonical {
		return c.Redirect(http.StatusMovedPermanently, roomPath(r, date))
	}
	v, code, err := s.dayView(c, r, date, "")
	if err != nil {
		return err
	}
	return s.renderCached(c, code, "day", v, v.Day)
}

// dayView builds a day page; the status is 404 for a day without messages
// (the page still links to the nearest days that have some).
func (s *Server) dayView(c echo.Context, r store.Room, date string, highlight id.EventID) (dayView, int, error) {
	ctx := c.Request().Context()
	t, from, to, err := parseDay(date)
	if err != nil {
		return dayView{}, 0, err
	}
	evs, err := s.store.DayEvents(ctx, r.ID, from, to)
	if err != nil {
		return dayView{}, 0, err
	}
	prev, next, err := s.store.AdjacentMessages(ctx, r.ID, from, to)
	if err != nil {
		return dayView{}, 0, err
	}
	v := dayView{
		Bot: s.opts.Bot, Day: t, Room: s.roomView(ctx, r), Date: date, DateLong: t.Format("Monday, 2 January 2006"),
		TextPath: roomPath(r, date+".txt"), Truncated: len(evs) >= store.MaxDayEvents,
		Highlight: string(highlight),
	}
	v.Room.HistoryNote = s.historyNote(ctx, r)
	if prev > 0 {
		v.PrevDate = time.UnixMilli(prev).UTC().Format(dateLayout)
		v.PrevPath = roomPath(r, v.PrevDate)
	}
	if next > 0 {
		v.NextDate = time.UnixMilli(next).UTC().Format(dateLayout)
		v.NextPath = roomPath(r, v.NextDate)
	}
	v.Items, err = s.timeline(ctx, r, evs, highlight, false)
	if err != nil {
		return dayView{}, 0, err
	}
	v.IRC = ircNote(v.Items)
	code := http.StatusOK
	if len(v.Items) == 0 {
		code = http.StatusNotFound
	}
	return v, code, nil
}

// permalink shows a message in context on its day page, highlighted.
// Permalinks are forever: a stale room part redirects, an edit or reaction
// resolves to its target, and an event the archive cannot show says why.
func (s *Server) permalink(c echo.Context) error {
	ev, r, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	// Edits, reactions and other relations resolve to the message they
	// belong to, as the spec asks of permalinks to edits.
	if (ev.Rel.Type == "m.replace" || ev.Rel.Type == "m.annotation") && ev.Rel.EventID != "" {
		return c.Redirect(http.StatusFound, eventPath(r, ev.Rel.EventID))
	}
	if ev.Type == event.TypeRedaction && ev.Redacts != "" {
		return c.Redirect(http.StatusFound, eventPath(r, ev.Redacts))
	}
	given, _ := param(c, "room")
	if given != slug(r) {
		return c.Redirect(http.StatusMovedPermanently, eventPath(r, ev.ID))
	}
	// A thread reply is shown in its thread, highlighted; on its day when
	// the root is gone (expired, say): the reply's permalink still works.
	if ev.Rel.Type == "m.thread" && ev.Rel.EventID != "" {
		root, ok, err := s.threadRoot(c, r, ev.Rel.EventID)
		if err != nil {
			return err
		}
		if ok {
			return s.renderThread(c, r, root, ev.ID)
		}
	}
	date := time.UnixMilli(ev.OriginTS).UTC().Format(dateLayout)
	v, _, err := s.dayView(c, r, date, ev.ID)
	if err != nil {
		return err
	}
	return s.renderCached(c, http.StatusOK, "day", v, v.Day)
}

// publicEvent finds the event the URL's :event names and its room, or the
// error that says why it cannot be shown: not an event ID (400), unknown
// (404), not public (404), or its room no longer shown (410).
func (s *Server) publicEvent(c echo.Context) (store.Event, store.Room, error) {
	raw, err := param(c, "event")
	if err != nil {
		return store.Event{}, store.Room{}, err
	}
	ev, err := s.lookupEvent(c, raw)
	if err != nil {
		return store.Event{}, store.Room{}, err
	}
	r, err := s.store.Room(c.Request().Context(), ev.RoomID)
	if err != nil {
		return store.Event{}, store.Room{}, err
	}
	if why := r.Unavailable(); why != "" {
		return store.Event{}, store.Room{}, &httpError{code: http.StatusGone, msg: why}
	}
	if !ev.Public {
		return store.Event{}, store.Room{}, notFound("This event is not part of the public archive: the room's history was not public when it was sent.")
	}
	if ev.Expired {
		return store.Event{}, store.Room{}, &httpError{code: http.StatusGone, msg: fmt.Sprintf(
			"This message expired under the room's retention policy (messages are kept for %s), so the archive no longer shows it.", lifetime(r.MaxLifetime))}
	}
	return ev, r, nil
}

// lookupEvent finds an event by the ID a URL gives, with a clear 400 for
// something that is not an event ID and a 404 page for an unknown one.
func (s *Server) lookupEvent(c echo.Context, raw string) (store.Event, error) {
	if !strings.HasPrefix(raw, "$") || len(raw) < 2 || len(raw) > 255 {
		return store.Event{}, badRequest("%q is not a Matrix event ID; event IDs start with '$'.", truncateRunes(raw, 80))
	}
	ctx := c.Request().Context()
	ev, err := s.store.EventByID(ctx, id.EventID(raw))
	if errors.Is(err, store.ErrNotFound) {
		switch why, terr := s.store.Tombstone(ctx, id.EventID(raw)); {
		case terr == nil:
			return store.Event{}, &httpError{code: http.StatusGone, msg: tombstoneNotice(why)}
		case !errors.Is(terr, store.ErrNotFound):
			return store.Event{}, terr
		}
		return store.Event{}, notFound("The archive has no event %s. It may never have been archived, or the link may be mistyped.", raw)
	}
	return ev, err
}

// tombstoneNotice says why a message the archive held is gone for good.
func tombstoneNotice(reason string) string {
	switch reason {
	case store.TombstoneExpired:
		return "This message expired under the room's retention policy and was deleted from the archive."
	case store.TombstoneErased:
		return "This message was deleted from the archive at its sender's request."
	default:
		return "This message's room was removed from the archive by its operator."
	}
}

// lifetime writes a retention period for readers ("30 days").
func lifetime(d time.Duration) string {
	switch days := d.Hours() / 24; {
	case days >= 2:
		return fmt.Sprintf("%.0f days", days)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	default:
		return d.Round(time.Second).String()
	}
}

// eventRedirect serves /event/{id}: the permalink without a room part.
func (s *Server) eventRedirect(c echo.Context) error {
	ev, r, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, eventPath(r, ev.ID))
}

// dayText serves a day as a plain-text log, one line per message, the way
// IRC log bots did: for scripts, grep and old habits.
func (s *Server) dayText(c echo.Context, r store.Room, canonical bool, date string) error {
	if !canonical {
		return c.Redirect(http.StatusMovedPermanently, roomPath(r, date+".txt"))
	}
	ctx := c.Request().Context()
	day, from, to, err := parseDay(date)
	if err != nil {
		return err
	}
	evs, err := s.store.DayEvents(ctx, r.ID, from, to)
	if err != nil {
		return err
	}
	msgs, err := s.shownMessages(ctx, evs)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (%s) — %s UTC\n", roomName(r), r.ID, date)
	for _, l := range ircTextNote(evs) {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	for _, e := range evs {
		sh, ok := msgs[e.ID]
		if !ok {
			continue
		}
		ts := time.UnixMilli(e.OriginTS).UTC().Format("15:04:05")
		name := displayName(e.SenderName, e.Sender)
		if sh.redaction != nil {
			fmt.Fprintf(&b, "[%s] <%s> (%s)\n", ts, name, sh.redaction.Notice())
			continue
		}
		text := strings.ReplaceAll(strings.TrimRight(s.render.Text(sh.msg), "\n"), "\n", "\n    ")
		if sh.edited {
			text += " (edited)"
		}
		switch sh.msg.MsgType {
		case event.MsgEmote:
			fmt.Fprintf(&b, "[%s] * %s %s\n", ts, name, text)
		case event.MsgNotice:
			fmt.Fprintf(&b, "[%s] -%s- %s\n", ts, name, text)
		default:
			fmt.Fprintf(&b, "[%s] <%s> %s\n", ts, name, text)
		}
	}
	code := http.StatusOK
	if len(msgs) == 0 {
		code = http.StatusNotFound
	}
	return s.sendCached(c, code, "text/plain; charset=utf-8", []byte(b.String()), day)
}

type errorView struct {
	Code    int
	Title   string
	Message string
}
