package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

const dateLayout = "2006-01-02"

// roomLatest sends a reader to the room's most recent day with messages.
func (s *Server) roomLatest(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if date := c.QueryParam("date"); date != "" {
		return s.jumpToDate(c, r, date)
	}
	last := latestTS(r)
	if last == 0 {
		return notFound("The archive has no public messages of %s yet.", roomName(r))
	}
	day := time.UnixMilli(last).UTC().Format(dateLayout)
	return c.Redirect(http.StatusFound, roomPath(r, day))
}

// latestTS is the time of the room's latest message, which its address
// and calendar open on: its last message time, or, for a room whose
// messages were all stamped ahead of their arrival (history read back,
// which does not set it), its first (store's writer.put), while it has
// messages: a first time outlives its messages' deletion (helper-93).
func latestTS(r store.Room) int64 {
	if r.LastTS > 0 || r.MessageCount == 0 {
		return r.LastTS
	}
	return r.FirstTS
}

type dayView struct {
	Bot      string
	Day      time.Time // midnight UTC
	Room     roomView
	Date     string
	DateLong string
	PrevPath string
	PrevDate string
	NextPath string
	NextDate string
	TextPath string
	Items    []itemView
	// A day with more events than a page holds is read in pages: the
	// links to the page before and after this one on the same day ("" at
	// either end), and whether this is a later page.
	PrevPagePath string
	NextPagePath string
	LaterPage    bool
	// Nav is the calendar and date field in the header.
	Nav dayNav
	// LiveURL is set on the current day's last page: where archive.js
	// asks for new items, continuing after LiveSince (an event ID).
	LiveURL   string
	LiveSince string
	LastID    string    // the page's last event
	IRC       []ircLogs // the IRC logs lines of the day came from
	// Robots is the room's own robots rule (MSC4021), "" for none.
	Robots string
	// Hours open a day of several pages at each hour with messages.
	Hours []hourLink
}

type hourLink struct {
	Label string
	Path  string
	Count int
	More  bool // counted only up to store.MaxCount
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
	// The one canonical-room redirect of the day's page and its text log
	// (date keeps its ".txt").
	if !canonical {
		return canonicalRedirect(c, roomPath(r, date))
	}
	if p, err := s.predecessorDayPath(c, r, date, dayPathOf(date)); p != "" || err != nil {
		return redirectOr(c, p, err)
	}
	if d, ok := strings.CutSuffix(date, ".txt"); ok {
		return s.dayText(c, r, d)
	}
	if t, _, _, err := parseDay(date); err == nil && c.QueryParam("fragment") == "" {
		// The live fragment is not keyed: it is asked for with no-store.
		// ?jumped= as the page reads it: a crawler's junk values must
		// not each take a key of their own.
		jumped := ""
		if j, err := time.Parse(dateLayout, c.QueryParam("jumped")); err == nil {
			jumped = j.Format(dateLayout)
		}
		key, err := s.htmlPageKey(c, r, "day "+date+" "+jumped, "after", "hour")
		if err != nil {
			return err
		}
		if served, err := s.servePageKey(c, key, t); served {
			return err
		}
	}
	var q renderQueue
	v, code, err := s.dayView(c, r, date, c.QueryParam("after"), &q)
	if err != nil {
		return s.cursorElsewhere(c, r, date, err, dayPathOf(date))
	}
	if c.QueryParam("fragment") == "items" {
		return s.liveItems(c, v, &q)
	}
	return s.renderValidated(c, code, "day", v, &q, v.Day)
}

// maxPredecessors is how many upgrades back a room's day links follow
// (predecessors).
const maxPredecessors = 8

// predecessors are the rooms r replaced, the latest first, as far as the
// store knows both links of each upgrade (the room's m.room.create names
// its predecessor, whose tombstone names the room: a room cannot claim
// another's days by naming it) and the rooms are shown, at most
// maxPredecessors of them. Each is a read: only a day link that found
// nothing in r follows them.
func (s *Server) predecessors(ctx context.Context, r store.Room) ([]store.Room, error) {
	var out []store.Room
	seen := map[id.RoomID]bool{r.ID: true}
	for cur := r; cur.Predecessor != "" && !seen[cur.Predecessor] && len(out) < maxPredecessors; {
		seen[cur.Predecessor] = true
		p, err := s.store.Room(ctx, cur.Predecessor)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if p.Successor != cur.ID || !p.Shown() {
			break
		}
		out = append(out, p)
		cur = p
	}
	return out, nil
}

// dayPathOf is the path of a room's day date (with ".txt" for its text
// log) for predecessorDayPath and predecessorCursorPath; apiDayPath is
// its JSON's.
func dayPathOf(date string) func(store.Room) string {
	return func(r store.Room) string { return roomPath(r, date) }
}

func apiDayPath(r store.Room) string {
	return "/api/v1/rooms/" + pathSegment(slug(r)) + "/events"
}

// predecessorDayPath is where a link to r's day date (with ".txt" for its
// text log) leads when the day comes before r's first message (or r has
// none) and a room r replaced has messages that day: that room's day
// (path of it), the query kept. A room upgrade moves its alias to the new
// room, and every day link made before (/room/proj:example.org/2026-01-01,
// in wikis, in the permalink page's own "full day" link, in scripts
// reading the JSON API) then named the new room's empty day. ""
// otherwise, and at no cost for a room that replaced none or a day it has
// messages from.
func (s *Server) predecessorDayPath(c echo.Context, r store.Room, date string, path func(store.Room) string) (string, error) {
	p, ok, err := s.predecessorDay(c.Request().Context(), r, date)
	if !ok || err != nil {
		return "", err
	}
	return withQuery(path(p), c.Request().URL.RawQuery), nil
}

// predecessorDay is the room r replaced whose day date (with ".txt" for
// its text log) a link to r's leads to (predecessorDayPath), and whether
// there is one.
func (s *Server) predecessorDay(ctx context.Context, r store.Room, date string) (store.Room, bool, error) {
	if r.Predecessor == "" {
		return store.Room{}, false, nil
	}
	_, from, to, err := parseDay(strings.TrimSuffix(date, ".txt"))
	if err != nil || r.FirstTS != 0 && r.FirstTS < to {
		return store.Room{}, false, nil // the day's own answer says what is wrong, or is r's
	}
	preds, err := s.predecessors(ctx, r)
	if err != nil {
		return store.Room{}, false, err
	}
	for _, p := range preds {
		if p.FirstTS == 0 || p.FirstTS >= to || p.LastTS < from {
			continue
		}
		last, _, err := s.store.AdjacentMessages(ctx, p.ID, to, to) // its latest message before the day's end
		if err != nil {
			return store.Room{}, false, err
		}
		if last >= from {
			return p, true, nil
		}
	}
	return store.Room{}, false, nil
}

// predecessorCursorPath is where r's day page date (or its JSON) goes when
// its ?after= (after) is no event of r's but a public one of that day in a
// room r replaced (predecessors): that room's day (path of it), the query
// kept. "" otherwise: the 400 stands.
func (s *Server) predecessorCursorPath(c echo.Context, r store.Room, date, after string, path func(store.Room) string) (string, error) {
	if r.Predecessor == "" || !strings.HasPrefix(after, "$") || len(after) > 255 {
		return "", nil
	}
	_, from, to, err := parseDay(date)
	if err != nil {
		return "", nil
	}
	ctx := c.Request().Context()
	// The event's room and time: as stored, or, for an event deleted since
	// (its sender erased), as its tombstone keeps them (deletedCursor).
	ev, err := s.store.EventByID(ctx, id.EventID(after))
	room, ts := ev.RoomID, ev.OriginTS
	switch {
	case errors.Is(err, store.ErrNotFound):
		room, ts, err = s.store.DeletedEventTime(ctx, id.EventID(after))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case !ev.Public:
		return "", nil
	}
	if room == r.ID || ts < from || ts >= to {
		return "", nil
	}
	preds, err := s.predecessors(ctx, r)
	if err != nil {
		return "", err
	}
	for _, p := range preds {
		if p.ID == room {
			return withQuery(path(p), c.Request().URL.RawQuery), nil
		}
	}
	return "", nil
}

// cursorElsewhere is the answer to a request for r's day date whose
// ?after= was refused (err): a redirect to the day of the room r replaced
// that the cursor is of (predecessorCursorPath, path of it), or err.
func (s *Server) cursorElsewhere(c echo.Context, r store.Room, date string, err error, path func(store.Room) string) error {
	var he *httpError
	if errors.As(err, &he) && he.code == http.StatusBadRequest && c.QueryParam("after") != "" {
		if p, perr := s.predecessorCursorPath(c, r, date, c.QueryParam("after"), path); p != "" || perr != nil {
			return redirectOr(c, p, perr)
		}
	}
	return err
}

// withQuery is path with the raw query q, if any.
func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

// redirectOr answers a 302 to path, or err.
func redirectOr(c echo.Context, path string, err error) error {
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusFound, path)
}

// dayCursor resolves a day page's ?after= (an event ID) to the position
// the page starts after; the zero Position for none. Anything but a public
// event of this room on this day is a 400: a cursor is only ever one of
// our own links. An event of it the archive has deleted since (its sender
// erased, say) still places the page, by its tombstone's time
// (deletedCursor).
func (s *Server) dayCursor(c echo.Context, r store.Room, after string, from, to int64) (store.Position, error) {
	if after == "" {
		return store.Position{}, nil
	}
	bad := badRequest("?after= names no message of this room on this day; it takes an event ID from the link to the next page.")
	if !strings.HasPrefix(after, "$") || len(after) > 255 {
		return store.Position{}, bad
	}
	ev, err := s.store.EventByID(c.Request().Context(), id.EventID(after))
	if errors.Is(err, store.ErrNotFound) {
		return s.deletedCursor(c, r, after, from, to, bad)
	}
	if err != nil {
		return store.Position{}, err
	}
	if ev.RoomID != r.ID || !ev.Public || ev.OriginTS < from || ev.OriginTS >= to {
		return store.Position{}, bad
	}
	return store.PositionOf(ev), nil
}

// deletedCursor is dayCursor's position for an ?after= event the archive
// deleted (its tombstone keeps its room and time, not its place among the
// events of its millisecond): before every event of that millisecond, so
// that the page repeats those the page before showed rather than skip
// one. A page's link to the next, a JSON day's next_after, outlives the
// erasure of its last event's sender: the rest of the day is still there.
// bad where it is not an event of r on the day, or the archive never had
// it.
func (s *Server) deletedCursor(c echo.Context, r store.Room, after string, from, to int64, bad error) (store.Position, error) {
	room, ts, err := s.store.DeletedEventTime(c.Request().Context(), id.EventID(after))
	if errors.Is(err, store.ErrNotFound) {
		return store.Position{}, bad
	}
	if err != nil {
		return store.Position{}, err
	}
	if room != r.ID || ts < from || ts >= to {
		return store.Position{}, bad
	}
	return store.Position{TS: ts, NID: math.MinInt64}, nil
}

// dayPagePath is the path of the day's page that starts after the event
// after ("" for the first page).
func dayPagePath(r store.Room, date string, after id.EventID) string {
	p := roomPath(r, date)
	if after != "" {
		p += "?after=" + url.QueryEscape(string(after))
	}
	return p
}

// dayView builds a day page (the page of it after the event ?after=
// names, if any), its messages queued on q; the status is 404 for a day
// without messages (the page still links to the nearest days that have
// some).
func (s *Server) dayView(c echo.Context, r store.Room, date, after string, q *renderQueue) (dayView, int, error) {
	ctx := c.Request().Context()
	t, from, to, err := parseDay(date)
	if err != nil {
		return dayView{}, 0, err
	}
	pos, err := s.dayCursor(c, r, after, from, to)
	if err != nil {
		return dayView{}, 0, err
	}
	// The page before this one ends with the cursor's own event.
	beforePos := store.Position{TS: pos.TS, NID: pos.NID + 1}
	hour := c.QueryParam("hour")
	if hour != "" {
		h, err := strconv.Atoi(hour)
		if err != nil || len(hour) != 2 || hour[0] < '0' || hour[0] > '9' || h < 0 || h > 23 || after != "" {
			return dayView{}, 0, badRequest("?hour= takes an hour of the day from 00 to 23 (UTC), without ?after=.")
		}
		// From the hour's first millisecond: after every event of the
		// millisecond before, and before every event of the hour.
		start := from + int64(h)*3600000
		pos, beforePos = store.Position{TS: start - 1, NID: math.MaxInt64}, store.Position{TS: start, NID: math.MinInt64}
	}
	size := s.opts.DayPageSize
	// A later page's link back is read while its own events load
	// (overlap: on PostgreSQL two or three round trips that waited for
	// the page's reads).
	prevPage := func() (string, error) { return "", nil }
	if after != "" || hour != "" {
		prevPage = overlap(s, func() (string, error) { return s.prevPagePath(ctx, r, date, from, beforePos, size) })
	}
	day, err := s.loadDay(ctx, r, from, to, pos, size, s.opts.DayPageBytes)
	if err != nil {
		return dayView{}, 0, err
	}
	evs, more, prev, next := day.evs, day.more, day.prev, day.next
	v := dayView{
		Bot: s.opts.Bot, Day: t, Room: s.roomView(ctx, r), Date: date, DateLong: t.Format("Monday, 2 January 2006"),
		TextPath: roomPath(r, date+".txt"), LaterPage: after != "" || hour != "",
	}
	if len(evs) > 0 {
		v.LastID = string(evs[len(evs)-1].ID)
	}
	if more && len(evs) > 0 {
		v.NextPagePath = dayPagePath(r, date, evs[len(evs)-1].ID)
	}
	if v.PrevPagePath, err = prevPage(); err != nil {
		return dayView{}, 0, err
	}
	// A day of several pages also opens at each hour; its counts are read
	// while the timeline loads (overlap).
	hours := func() (map[int64]int, error) { return nil, nil }
	if v.LaterPage || v.NextPagePath != "" {
		laterPage := v.LaterPage // not v, which this goroutine goes on filling
		hours = overlap(s, func() (map[int64]int, error) { return s.hourCounts(ctx, r, from, evs, laterPage) })
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
	v.Nav = s.dayNavOf(r, t)
	if v.Robots, _, err = s.roomRobots(c, r); err != nil {
		return dayView{}, 0, err
	}
	if today := s.now().UTC().Truncate(24 * time.Hour); t.Equal(today) && v.NextPagePath == "" {
		v.LiveURL = roomPath(r, date) + "?fragment=items"
		v.LiveSince = after
		if len(evs) > 0 {
			v.LiveSince = string(evs[len(evs)-1].ID)
		}
	}
	if j, err := time.Parse(dateLayout, c.QueryParam("jumped")); err == nil {
		v.Nav.Jumped = j.Format(dateLayout)
	}
	v.Items, err = s.timeline(ctx, r, evs, "", false, &day, q)
	if err != nil {
		return dayView{}, 0, err
	}
	counts, err := hours()
	if err != nil {
		return dayView{}, 0, err
	}
	for h := 0; h < 24; h++ {
		if n := counts[from+int64(h)*3600000]; n > 0 {
			v.Hours = append(v.Hours, hourLink{Label: fmt.Sprintf("%02d:00", h), Path: fmt.Sprintf("%s?hour=%02d", roomPath(r, date), h), Count: n, More: n >= store.MaxCount})
		}
	}
	v.IRC = ircNote(v.Items)
	code := http.StatusOK
	if len(v.Items) == 0 && !v.LaterPage {
		code = http.StatusNotFound
	}
	return v, code, nil
}

// hourCounts is store.HourCounts for the day from from of a page of
// several, whose events are evs. The first page (not laterPage) holds
// every event of the hours before its last event's: those it counts
// itself, and the store counts only the rest of the day (a query that
// read about as many rows as the page did, for the first page of a
// 1,000-message day).
func (s *Server) hourCounts(ctx context.Context, r store.Room, from int64, evs []store.Event, laterPage bool) (map[int64]int, error) {
	if laterPage || len(evs) == 0 {
		return s.store.HourCounts(ctx, r.ID, from)
	}
	hourOf := func(ts int64) int64 { return from + (ts-from)/3600000*3600000 }
	first := hourOf(evs[len(evs)-1].OriginTS)
	counts, err := s.store.HourCountsFrom(ctx, r.ID, from, first)
	if err != nil {
		return nil, err
	}
	for i := range evs {
		if e := &evs[i]; e.OriginTS < first && e.Counted() {
			h := hourOf(e.OriginTS)
			counts[h] = min(counts[h]+1, store.MaxCount) // capped as the store caps
		}
	}
	return counts, nil
}

// permalink shows a message in context on its day page, highlighted.
// Permalinks are forever: a stale room part redirects, an edit or reaction
// resolves to its target, and an event the archive cannot show says why.
func (s *Server) permalink(c echo.Context) error {
	ev, r, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	// Edits, reactions, a poll's responses and end (shown as its result)
	// and redactions resolve to the message they belong to, as the spec
	// asks of permalinks to edits.
	if belongsTo(&ev) != "" {
		target, err := s.messageOf(c, &ev)
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusFound, eventPath(r, target))
	}
	given, _ := param(c, "room")
	if given != slug(r) {
		return canonicalRedirect(c, eventPath(r, ev.ID))
	}
	// A thread reply is shown in its thread, highlighted; on its day when
	// the root is gone (expired, say) or the thread page cannot show it
	// (past store.MaxRelated replies, or store.MaxRelatedBytes of them): the
	// reply's permalink still works.
	if ev.Rel.Type == event.RelThread && ev.Rel.EventID != "" {
		root, ok, err := s.threadRoot(c, r, ev.Rel.EventID)
		if err != nil {
			return err
		}
		if ok {
			if shown, err := s.renderThread(c, r, root, ev.ID); shown || err != nil {
				return err
			}
		}
	}
	if ev.Rel.Type != event.RelThread {
		// A thread reply's page depends on its thread: not keyed.
		key, err := s.htmlPageKey(c, r, "event "+string(ev.ID))
		if err != nil {
			return err
		}
		if served, err := s.servePageKey(c, key, time.Time{}); served {
			return err
		}
	}
	return s.permalinkPage(c, r, ev)
}

// belongsTo is the message whose permalink shows ev (permalink), or "".
// A reaction is an m.reaction: another event that says it annotates a
// message is no reaction of it (event.Resolve), and its day shows it as
// whatever it is, so its permalink is its own.
func belongsTo(ev *store.Event) id.EventID {
	switch {
	case (ev.Rel.Type == event.RelReplace || ev.Rel.Type == event.RelAnnotation && ev.Type == event.TypeReaction) && ev.Rel.EventID != "":
		return ev.Rel.EventID
	case (event.IsPollResponse(ev.Type) || event.IsPollEnd(ev.Type)) && ev.Rel.Type == event.RelReference && ev.Rel.EventID != "":
		return ev.Rel.EventID
	case ev.Type == event.TypeRedaction && ev.Redacts != "":
		return ev.Redacts
	}
	return ""
}

// messageOf is the message whose permalink shows ev, which belongs to
// another event (belongsTo), followed through a chain of such events as
// long as maxBelongs. Anyone can name any event, and redirects that
// trusted it went round for ever (an edit of itself) or to another room's
// message: each step must stay in the room, an edit must be one of its
// original (event.ValidEdit), and an event met again or a longer chain is
// a 404 that says so. A target the archive does not hold is its own
// permalink's to explain (gone, or never archived).
func (s *Server) messageOf(c echo.Context, ev *store.Event) (id.EventID, error) {
	cur, seen := ev, map[id.EventID]bool{ev.ID: true}
	for range maxBelongs {
		target := belongsTo(cur)
		if target == "" {
			return cur.ID, nil
		}
		if cur.Type == event.TypeRedaction {
			// The event the store applied it to: before room version 11
			// content.redacts is anyone's to fill, and named another's
			// message than the one a member deleted.
			applied, err := s.store.RedactionTarget(c.Request().Context(), cur.ID)
			if err == nil {
				target = applied
			} else if !errors.Is(err, store.ErrNotFound) {
				return "", err
			}
		}
		if seen[target] {
			break
		}
		seen[target] = true
		t, err := s.store.EventByID(c.Request().Context(), target)
		if errors.Is(err, store.ErrNotFound) {
			return target, nil
		}
		if err != nil {
			return "", err
		}
		edit := cur.Type != event.TypeRedaction && cur.Rel.Type == event.RelReplace
		if t.RoomID != cur.RoomID || (edit && !event.ValidEdit(&t.Event, &cur.Event)) {
			break
		}
		cur = &t
	}
	return "", notFound("The archive does not show %s: it names a message it cannot belong to (another room's, another sender's for an edit, or itself).", ev.ID)
}

// maxBelongs is how many events messageOf follows.
const maxBelongs = 4

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
	r, err := s.store.RoomToRead(c.Request().Context(), ev.RoomID) // with the state a permalink's key reads
	if err != nil {
		return store.Event{}, store.Room{}, err
	}
	if !r.Shown() {
		return store.Event{}, store.Room{}, &httpError{code: http.StatusGone, msg: roomGone(r)}
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
	if err := eventIDSyntax(raw); err != nil {
		return store.Event{}, err
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

// eventIDSyntax refuses, with a 400, what cannot be an event ID.
func eventIDSyntax(raw string) error {
	if !strings.HasPrefix(raw, "$") || len(raw) < 2 || len(raw) > 255 {
		return badRequest("%q is not a Matrix event ID; event IDs start with '$'.", truncateRunes(raw, 80))
	}
	return nil
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

// prevPagePath is the link from a later page of r's day date (from its
// first millisecond) back to the page before it, which ends before
// beforePos: read one more than a page back (size), and start after the
// oldest. A read cut by its bytes (more, fewer events) starts after its
// oldest too, the one that reached the bound; where that is the only
// one, after the event before it. "" when there is no page before.
func (s *Server) prevPagePath(ctx context.Context, r store.Room, date string, from int64, beforePos store.Position, size int) (string, error) {
	before, more, err := s.store.DayPageBefore(ctx, r.ID, from, beforePos, size+1, s.opts.DayPageBytes)
	if err != nil {
		return "", err
	}
	if before, err = s.cutBeforeByRelations(ctx, r, before, &more); err != nil {
		return "", err
	}
	switch {
	case len(before) > size || more && len(before) > 1:
		return dayPagePath(r, date, before[0].ID), nil
	case more:
		start, _, err := s.store.DayPageBefore(ctx, r.ID, from, store.PositionOf(before[0]), 1, 0)
		if err != nil || len(start) == 0 {
			return dayPagePath(r, date, ""), err
		}
		return dayPagePath(r, date, start[0].ID), nil
	case len(before) > 0:
		return dayPagePath(r, date, ""), nil
	}
	return "", nil
}

// cutBeforeByRelations bounds the events read back for the page before
// a later one (store.DayPageBefore, oldest first) by their relations as
// a page is (shownDay): their relations are read back from the latest
// one, and where they reach the bound at an event, the read is taken to
// have ended there, cut (more), as one cut by its own bound: the events
// after it are the page before, which starts after it. Otherwise a page
// cut short by a message's relations would be skipped by the link back.
func (s *Server) cutBeforeByRelations(ctx context.Context, r store.Room, before []store.Event, more *bool) ([]store.Event, error) {
	if len(before) == 0 {
		return before, nil
	}
	_, partial, cut, err := s.store.RelatedInUpTo(ctx, r.ID, store.PositionOf(before[0]), store.PositionOf(before[len(before)-1]), s.opts.DayPageBytes, true)
	if err != nil || !cut {
		return before, err
	}
	j := 0 // before[j:] come after partial: their relations were read
	for j < len(before) && !partial.Before(store.PositionOf(before[j])) {
		j++
	}
	*more = true
	return before[max(j-1, 0):], nil
}

// dayText serves a day as a plain-text log, one line per message, the way
// IRC log bots did: for scripts, grep and old habits. Every line a message
// adds starts with "[hh:mm:ss] " or, for its own further lines, with four
// spaces: a name or body cannot forge a line (logLine, logField).
func (s *Server) dayText(c echo.Context, r store.Room, date string) error {
	ctx := c.Request().Context()
	day, from, to, err := parseDay(date)
	if err != nil {
		return err
	}
	key, err := s.pageKey(c, r, "text "+date)
	if err != nil {
		return err
	}
	if served, err := s.servePageKey(c, key, day); served {
		return err
	}
	if _, _, err := s.roomRobots(c, r); err != nil {
		return err
	}
	// The whole day, however busy: the log is where every message of a
	// day can be had in one response. A day that fits in one read of
	// APIDayPageSize events is answered whole, validated and cached; a
	// busier one (a flood) is streamed (streamDayText).
	release, err := s.takeDayRead(c)
	if err != nil {
		return err
	}
	defer release()
	evs, more, err := s.store.DayPage(ctx, r.ID, from, to, store.Position{}, s.opts.APIDayPageSize, s.opts.TextReadBytes)
	if err != nil {
		return err
	}
	msgs, kept, err := s.shownDay(ctx, r.ID, evs, s.opts.TextReadBytes)
	if err != nil {
		return err
	}
	if kept < len(evs) {
		evs, more = evs[:kept], true
	}
	if more {
		return s.streamDayText(c, r, date, day, from, to, evs, msgs, release)
	}
	return s.sendDayText(c, r, date, day, evs, msgs)
}

// sendDayText answers the text log of a day whose events are evs, all of
// them, as msgs shows their messages (shownDay), validated and cached as
// a page is.
func (s *Server) sendDayText(c echo.Context, r store.Room, date string, day time.Time, evs []store.Event, msgs map[id.EventID]*shown) error {
	ctx := c.Request().Context()
	polls, err := s.polls(ctx, r, evs, "")
	if err != nil {
		return err
	}
	v := textLogView{Header: textLogHeader(r, date, ircTextNote(evs, nil))}
	var q renderQueue
	names := sharedNames(evs, func(e *store.Event) bool { return msgs[e.ID] != nil || polls[e.ID] != nil })
	v.Lines = s.textLogLines(evs, msgs, polls, names, &q)
	code := http.StatusOK
	if len(v.Lines) == 0 {
		code = http.StatusNotFound
	}
	etag, err := s.validator(ctx, requestPageTag(c), v, &q)
	if err != nil {
		return err
	}
	bodyKey := fmt.Sprintf("text %d %s", code, etag)
	s.rememberPage(c, code, "text/plain; charset=utf-8", etag, bodyKey, &q)
	return s.sendValidated(c, code, "text/plain; charset=utf-8", etag, day, func() (respBody, error) {
		return s.cachedBody(bodyKey, func() (respBody, error) {
			if err := s.run(ctx, &q); err != nil {
				return respBody{}, err
			}
			return respBody{b: v.bytes()}, nil
		})
	})
}

// textLogHeader is the text log's first line, and a line for each note.
func textLogHeader(r store.Room, date string, notes []string) string {
	h := fmt.Sprintf("# %s (%s) — %s UTC", logField(roomName(r)), logField(string(r.ID)), date)
	for _, l := range notes {
		h += "\n# " + logField(l)
	}
	return h
}

// textLogLines makes the log's lines of the messages of evs that msgs
// shows and of its polls (polls' views), in evs's order, and queues the
// rendering of their text on q. A display name that two senders of the
// day's lines used (names: the whole day's, not only evs's, when the log
// is streamed) is followed by each one's user ID, as Matrix clients show
// it: a member who took another's name was that member in the log
// ("<Bob>"). So is a name that is another user's ID (speakerName).
func (s *Server) textLogLines(evs []store.Event, msgs map[id.EventID]*shown, polls map[id.EventID]*pollView, names dayNames, q *renderQueue) []textLogLine {
	var lines []textLogLine
	logged := func(e *store.Event) bool { return msgs[e.ID] != nil || polls[e.ID] != nil }
	for i := range evs {
		e := &evs[i]
		if !logged(e) {
			continue
		}
		l := textLogLine{Time: time.UnixMilli(e.OriginTS).UTC().Format("15:04:05"), Name: speakerName(e.SenderName, e.Sender, names)}
		sh := msgs[e.ID]
		if sh == nil {
			l.text = pollText(polls[e.ID])
			lines = append(lines, l)
			continue
		}
		l.MsgType, l.Edited = sh.msg.MsgType, sh.edited
		if sh.redaction != nil {
			l.Notice = withdrawnNotice(*sh.redaction)
		} else {
			l.Media = s.mediaURL(sh.msg.URL)
		}
		lines = append(lines, l)
	}
	// Queued once lines has its final length: the jobs keep pointers
	// into it.
	q.jobs = slices.Grow(q.jobs, len(lines))
	n := 0
	for i := range evs {
		if !logged(&evs[i]) {
			continue
		}
		if sh := msgs[evs[i].ID]; sh != nil && sh.redaction == nil {
			l := &lines[n]
			q.text(sh.msg, 0, func(t string) { l.text = t })
			if render.IsMedia(sh.msg) {
				q.media(sh.msg, func(a render.MediaAvailability) {
					if a != render.MediaAvailable {
						l.Media, l.MediaNote = "", render.MediaNote(sh.msg, a)
					}
				})
			}
		}
		n++ // a poll's line is written already
	}
	return lines
}

// speakerName is the name field of a text log line of user's, whose
// display name was name: the display name (or the user ID, for none) as
// the log writes it (logName), followed by the user ID where names says
// another sender of the day's lines is written so too, or where it holds
// anything shaped like a user ID but is not the sender's own ID: Mallory
// named "@bob:example.org", or "Bob (@bob:example.org)" as Bob is written
// on a day another Bob speaks, is not Bob.
func speakerName(name string, user id.UserID, names dayNames) string {
	shown := displayName(name, user)
	if written := logName(shown); !names.shared(written) && (shown == string(user) || !holdsUserID(shown)) {
		return written
	}
	return logName(shown + " (" + string(user) + ")")
}

// holdsUserID says whether a display name holds something shaped like a
// Matrix user ID: "@", then a character, then a ":" that a character
// follows, with no space between.
func holdsUserID(name string) bool {
	for rest := name; ; {
		at := strings.IndexByte(rest, '@')
		if at < 0 {
			return false
		}
		rest = rest[at+1:]
		word := rest
		if end := strings.IndexFunc(word, unicode.IsSpace); end >= 0 {
			word = word[:end]
		}
		if colon := strings.IndexByte(word, ':'); colon > 0 && colon < len(word)-1 {
			return true
		}
	}
}

// dayNames says which names, as a day's text log writes them (logName),
// it follows with their sender's user ID: those more than one sender of
// its lines is written as (sharedNames), or every one (all) where a
// streamed log could not learn them all (dayNameClashes).
type dayNames struct {
	names map[string]bool
	all   bool
}

// shared says whether the written name is one of them.
func (n dayNames) shared(written string) bool { return n.all || n.names[written] }

// sharedNames are the names, as written, of more than one sender of
// evs's lines (those logged says have one).
func sharedNames(evs []store.Event, logged func(*store.Event) bool) dayNames {
	var c nameClashes
	for i := range evs {
		if e := &evs[i]; logged(e) {
			c.add(e.SenderName, e.Sender)
		}
	}
	return dayNames{names: c.shared}
}

// nameClashes finds the names that more than one sender is written as:
// compared as the log writes them, since two names that differ only where
// the log writes a stand-in ("<Bob>" and "‹Bob›") read alike.
type nameClashes struct {
	by     map[string]id.UserID // each written name's first sender
	shared map[string]bool
}

// add notes that user went by the display name name ("" for none).
func (c *nameClashes) add(name string, user id.UserID) {
	written := logName(displayName(name, user))
	if c.by == nil {
		c.by = map[string]id.UserID{}
	}
	if u, ok := c.by[written]; !ok {
		c.by[written] = user
	} else if u != user {
		if c.shared == nil {
			c.shared = map[string]bool{}
		}
		c.shared[written] = true
	}
}

// maxDayNames bounds the (name, sender) pairs a streamed text log reads
// to decide which names its lines tell apart (store.DayNames): a day has
// one a sender who spoke, or a few.
const maxDayNames = 20000

// dayNameClashes is sharedNames for the whole of r's day [from, to), from
// the day's (name, sender) pairs read from the store before a text log
// streamed a read at a time (which would otherwise tell apart only the
// senders of one read, and write "<Bob>" for two Bobs speaking in
// different reads) writes its first line: its lines name senders as the
// whole day's log would. A day of more than maxDayNames pairs (senders
// made to flood it) follows every name with its sender's ID.
func (s *Server) dayNameClashes(ctx context.Context, r store.Room, from, to int64) (dayNames, error) {
	pairs, more, err := s.store.DayNames(ctx, r.ID, from, to, maxDayNames)
	if err != nil || more {
		return dayNames{all: more}, err
	}
	var c nameClashes
	for _, p := range pairs {
		c.add(p.Name, p.Sender)
	}
	return dayNames{names: c.shared}, nil
}

// textLogView is a plain-text day log before its messages' text is
// rendered.
type textLogView struct {
	Header string
	Lines  []textLogLine
}

type textLogLine struct {
	Time, Name, MsgType string
	Notice              string // why the message is withdrawn, if it is
	Media               string // the archive's URL of its media, if any
	MediaNote           string // or why the archive has no copy of it
	Edited              bool
	text                string // rendered
}

// bytes writes the log, appending to one buffer sized beforehand: with
// fmt and a string per line, writing a day of 1,000 messages cost its
// first request a tenth of its CPU.
func (v textLogView) bytes() []byte {
	b := make([]byte, 0, len(v.Header)+1+textLogLinesSize(v.Lines))
	return appendTextLogLines(append(append(b, v.Header...), '\n'), v.Lines)
}

// textLogLinesSize is about what appendTextLogLines adds for lines, a
// little more.
func textLogLinesSize(lines []textLogLine) int {
	n := 0
	for i := range lines {
		l := &lines[i]
		// The fixed parts of a line are under 32 bytes; a line break in
		// the text adds four spaces.
		n += 32 + len(l.Time) + len(l.Name) + len(l.Notice) + len(l.text) + len(l.Media) + len(l.MediaNote)
	}
	return n + n/8
}

// appendTextLogLines appends lines, rendered, to b.
func appendTextLogLines(b []byte, lines []textLogLine) []byte {
	for i := range lines {
		l := &lines[i]
		b = append(append(append(b, '['), l.Time...), "] "...)
		if l.Notice != "" {
			b = append(append(append(append(append(b, '<'), l.Name...), "> ("...), l.Notice...), ")\n"...)
			continue
		}
		switch l.MsgType {
		case event.MsgEmote:
			b = append(append(append(b, "* "...), l.Name...), ' ')
		case event.MsgNotice:
			b = append(append(append(b, '-'), noticeName(l.Name)...), "- "...)
		default:
			b = append(append(append(b, '<'), l.Name...), "> "...)
		}
		b = appendLogLines(b, l.text)
		if l.Media != "" {
			// Built from a validated mxc URI and the archive's own URL:
			// nothing in it can break the line.
			b = append(append(append(b, " <"...), l.Media...), '>')
		}
		if l.MediaNote != "" {
			b = append(append(append(append(b, " ("...), strings.ToLower(l.MediaNote[:1])...), l.MediaNote[1:]...), ')')
		}
		if l.Edited {
			b = append(b, " (edited)"...)
		}
		b = append(b, '\n')
	}
	return b
}

// logField makes a name (or other one-line field) safe for one line of the
// text log: every control character, and every character that some reader
// takes for a line break, becomes a visible stand-in, so that a display
// name like "x\n[12:00] <admin> …" cannot add a line of its own.
func logField(s string) string { return strings.Map(logRune, s) }

// logName makes a sender's name one field of a text log line: as
// logField, and with its angle brackets turned (‹ and ›), so that on a
// line "<name> text" the speaker is what lies between the first "<" and
// the first ">", whatever the name: a name "Ann> I resign. <x" made a
// line every IRC log parser read as Ann's. (A notice's "-name- " is kept
// one field by appendTextLogLines; an action's "* name text" cannot be
// told apart from a name with spaces, as in IRC logs of Matrix rooms.)
func logName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '<':
			return '‹'
		case '>':
			return '›'
		}
		return logRune(r)
	}, s)
}

// noticeName is a notice line's name field ("-name- "): name (logName's)
// with every "-" that a space follows made a hyphen (‐), so that the
// first "- " of the line ends the name ("-Ann- I resign -x- ok" was Ann's
// notice).
func noticeName(name string) string {
	if !strings.Contains(name, "- ") {
		return name
	}
	return strings.ReplaceAll(name, "- ", "‐ ")
}

// logRune is the stand-in logField writes for r.
func logRune(r rune) rune {
	switch {
	case r < 0x20:
		return 0x2400 + r // the Control Pictures block: ␊, ␍, ␉…
	case r == 0x7f:
		return '␡'
	case r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029':
		return '\ufffd'
	}
	return r
}

// appendLogLines appends a message's text to b, made safe for the text
// log: every kind of line break (LF, CR LF, a lone CR, NEL, U+2028,
// U+2029) ends a line, and each further line is indented by four spaces,
// so that it cannot pass for a line of its own; other control characters
// except tab get stand-ins, as in logField. Trailing line breaks are
// dropped.
func appendLogLines(b []byte, text string) []byte {
	pendingBreaks := 0
	for i, r := range text {
		brk := r == '\n' || r == '\r' || r == '\u0085' || r == '\u2028' || r == '\u2029'
		if r == '\n' && i > 0 && text[i-1] == '\r' {
			continue // the LF of a CR LF
		}
		if brk {
			pendingBreaks++
			continue
		}
		for ; pendingBreaks > 0; pendingBreaks-- {
			b = append(b, "\n    "...)
		}
		if r != '\t' {
			r = logRune(r)
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

type errorView struct {
	Code    int
	Title   string
	Message string
}
