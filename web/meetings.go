package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/meeting"
	"github.com/mxarchive/mxarchive/store"
)

// Meetings are derived on every request from the messages as shown (the
// meeting package holds meetbot's rules), never stored: a redacted,
// expired, opted-out or taken-down line leaves the minutes at once.

// maxListedMeetings bounds the meetings a list computes: each costs a load
// of its lines. The most recent are listed.
const maxListedMeetings = 200

// meetingWindows are the spans loaded after a #startmeeting: most meetings
// end within the first, and only one still running at its end (not ended
// and not silent for meeting.Silence before it) is loaded again in full.
var meetingWindows = [...]int64{3 * 60 * 60 * 1000, meeting.MaxDuration + 1}

// meetingLine is the meeting package's view of a shown message, or false
// for one the minutes cannot hold (withdrawn, media).
func meetingLine(sh *shown) (meeting.Line, bool) {
	if sh.redaction != nil {
		return meeting.Line{}, false
	}
	e := sh.ev
	l := meeting.Line{EventID: e.ID, Sender: e.Sender, Name: capName(e.SenderName), TS: e.OriginTS}
	switch sh.msg.MsgType {
	case event.MsgText:
		l.Command = true
	case event.MsgEmote, event.MsgNotice:
	default:
		return meeting.Line{}, false
	}
	l.Text = event.StripReplyFallbackText(sh.msg.Body)
	if meeting.Starts(l) && !store.MentionsMeeting(event.TypeMessage, sh.src) {
		// A #startmeeting whose JSON spells a letter of it as an escape
		// (#start\u006deeting) is not one the store finds as a meeting's
		// start (events_meeting), so no list, feed or API list showed the
		// meeting its day page and minutes did (helper-95): it is a line
		// like any other, everywhere.
		l.Command = false
	}
	return l, true
}

// loadMeeting computes the meeting started by start (a shown message of
// r); false when that message starts none. It also returns how many events
// it loaded, which a list counts against its budget.
func (s *Server) loadMeeting(ctx context.Context, r store.Room, start store.Event) (meeting.Meeting, bool, int, error) {
	loaded := 0
	for i, span := range meetingWindows {
		m, ok, n, full, err := s.meetingWindow(ctx, r, start, span)
		loaded += n
		if err != nil || !ok {
			return meeting.Meeting{}, false, loaded, err
		}
		windowEnd := start.OriginTS + span
		if m.Ended || i == len(meetingWindows)-1 || full || m.End+meeting.Silence < windowEnd {
			return m, true, loaded, nil
		}
	}
	return meeting.Meeting{}, false, loaded, nil // not reached: the last window returns
}

// meetingWindow computes the meeting started by start from the span (ms)
// of events after it, up to store.MaxDayEvents of them or meetingBytes of
// their JSON, read in a turn of their own (takeReadTurn); n is how many
// it read, full whether the span holds more (the meeting is cut there,
// as at meeting.MaxLines).
func (s *Server) meetingWindow(ctx context.Context, r store.Room, start store.Event, span int64) (m meeting.Meeting, ok bool, n int, full bool, err error) {
	lines, revs, n, full, err := s.meetingLines(ctx, r, start.OriginTS, start.OriginTS+span)
	if err != nil {
		return meeting.Meeting{}, false, n, false, err
	}
	m, ok = meeting.At(lines, start.ID)
	if ok {
		// A revision stamped after now counts from that time on: an
		// edit's time is its sender's claim, and one years ahead, capped
		// at now, made the feed's <updated> "now" at every fetch, so
		// readers saw the meeting updated at each poll.
		now := s.now().UnixMilli()
		for _, rv := range revs {
			if rv.ts >= m.Start && rv.ts <= m.End && rv.at <= now {
				m.Revised = max(m.Revised, rv.at)
			}
		}
	}
	return m, ok, n, full, nil
}

// revision is a message of a meeting's window that was edited or deleted:
// its own time and when (ms) it last changed, an edit's own time, the
// archive's time of applying a deletion or of its sender's opt-out.
type revision struct{ ts, at int64 }

// revisionOf is sh's revision, if it has one; optedOutAt is when its
// sender opted out, if they did (store.OptedOutAt): an opt-out's
// redaction (store.OptOutRedaction) has no time of its own, and an
// opted-out participant's lines left the minutes while <updated> stayed
// at the meeting's end, so feed readers kept them.
func revisionOf(sh *shown, optedOutAt time.Time) (revision, bool) {
	switch {
	case sh.redaction != nil && sh.redaction.Kind == store.RedactionOptOut:
		return revision{sh.ev.OriginTS, optedOutAt.UnixMilli()}, !optedOutAt.IsZero()
	case sh.redaction != nil:
		at := sh.redaction.AppliedAt
		if at.IsZero() {
			at = sh.redaction.ReceivedAt
		}
		return revision{sh.ev.OriginTS, at.UnixMilli()}, true
	case sh.edited && sh.editedAt > 0:
		return revision{sh.ev.OriginTS, sh.editedAt}, true
	}
	return revision{}, false
}

// meetingLines are the lines of r's shown messages in [from, to) (ms), up
// to store.MaxDayEvents events or meetingBytes of their JSON, read in a
// turn of their own (takeReadTurn); n is how many events it read, full
// whether the span holds more.
func (s *Server) meetingLines(ctx context.Context, r store.Room, from, to int64) (lines []meeting.Line, revs []revision, n int, full bool, err error) {
	release, err := s.takeReadTurn(ctx)
	if err != nil {
		return nil, nil, 0, false, err
	}
	defer release()
	evs, full, err := s.store.DayPage(ctx, r.ID, from, to, store.Position{}, store.MaxDayEvents, meetingBytes)
	if err != nil {
		return nil, nil, 0, false, err
	}
	msgs, err := s.shownTexts(ctx, evs)
	if err != nil {
		return nil, nil, len(evs), false, err
	}
	lines = make([]meeting.Line, 0, len(msgs))
	for _, e := range evs {
		if sh, ok := msgs[e.ID]; ok {
			if l, ok := meetingLine(sh); ok {
				lines = append(lines, l)
			}
			var optedOutAt time.Time
			if sh.ev.OptedOut {
				// From screening's copy, which screened these
				// events: no query.
				if optedOutAt, err = s.store.OptedOutAt(ctx, sh.ev.Sender); err != nil {
					return nil, nil, len(evs), false, err
				}
			}
			if rv, ok := revisionOf(sh, optedOutAt); ok {
				revs = append(revs, rv)
			}
		}
	}
	return lines, revs, len(evs), full, nil
}

// meetingBytes bounds a meeting's window of events by their JSON
// (store.DayPage), as MaxDayEvents bounds their number: 20,000 events as
// large as a homeserver lets through are 1.9 GB. A meeting of IRC lines
// reaches it after some 10,000 of them.
const meetingBytes = 4 << 20

type meetingListView struct {
	Room     roomView
	Meetings []meetingSummaryView
	Capped   int // maxListedMeetings when older meetings were left out
}

type meetingSummaryView struct {
	Path, TextPath string
	Date, Time     string
	DateTime       string
	Title          string
	Chairs         []string // each isolated on the page (<bdi>)
	Length         string
	Ended          bool
	Topics         int
	Actions        int
	Lines          int
}

// meetingListBudget bounds the events one list loads: a member who says
// #startmeeting every few hours in a busy room must not make the list
// load the whole room. The newest meetings are computed first.
const meetingListBudget = 100000

// maxStartPages bounds the pages of store.MeetingStarts' candidates one
// request reads (store.MaxMeetings each).
const maxStartPages = 5

// meetingStarts are the newest of r's #startmeetings sent at or before
// until (ms, 0 for any time) and at or after since, in timeline order, up
// to want of them: the messages whose text as shown (after their edits)
// starts a meeting (meeting.Starts). The store's candidates are any
// message that mentions the word, so they are read a page at a time, the
// newest first, until want are found: 200 mentions ("lol startmeeting")
// after a room's last meeting took the list's places and hid every
// meeting, and then the store's 1,000. unread says that older ones may
// have been left unread (maxStartPages).
func (s *Server) meetingStarts(ctx context.Context, r store.Room, until, since int64, want int) (starts []store.Event, unread bool, err error) {
	for page := 0; ; page++ {
		if page == maxStartPages {
			return starts, true, nil
		}
		cands, err := s.store.MeetingStarts(ctx, r.ID, until)
		if err != nil {
			return nil, false, err
		}
		msgs, err := s.shownTexts(ctx, cands)
		if err != nil {
			return nil, false, err
		}
		var found []store.Event
		for _, e := range cands {
			if sh, ok := msgs[e.ID]; ok && !e.OptedOut && e.OriginTS >= since {
				if l, ok := meetingLine(sh); ok && meeting.Starts(l) {
					found = append(found, e)
				}
			}
		}
		starts = append(found, starts...)
		if len(starts) >= want {
			return starts[len(starts)-want:], false, nil
		}
		if len(cands) < store.MaxMeetings || cands[0].OriginTS < since || cands[0].OriginTS <= 0 {
			return starts, false, nil
		}
		// The next page: before the oldest of this one. (Candidates sent
		// in the same millisecond as it, past the store's page, are
		// passed over.)
		until = cands[0].OriginTS - 1
	}
}

// meetingList computes a room's meetings, newest first; true when older
// ones were left out (past maxListedMeetings or the budget).
func (s *Server) meetingList(c echo.Context, r store.Room) ([]meeting.Meeting, bool, error) {
	ctx := c.Request().Context()
	starts, capped, err := s.meetingStarts(ctx, r, 0, 0, maxListedMeetings+1)
	if err != nil {
		return nil, false, err
	}
	if len(starts) > maxListedMeetings {
		starts, capped = starts[1:], true
	}
	var found []meeting.Meeting // newest first
	loaded := 0
	for i := len(starts) - 1; i >= 0; i-- {
		st := starts[i]
		if loaded >= meetingListBudget {
			capped = true
			break
		}
		m, ok, n, err := s.loadMeeting(ctx, r, st)
		loaded += n
		if err != nil {
			return nil, false, err
		}
		if ok {
			found = append(found, m)
		}
	}
	// A #startmeeting said inside an earlier meeting is a line of it.
	var out []meeting.Meeting
	for i := range found {
		nested := false
		for j := i + 1; j < len(found); j++ {
			if found[j].Start <= found[i].Start && found[i].Start <= found[j].End && found[j].ID != found[i].ID {
				nested = true
				break
			}
		}
		if !nested {
			out = append(out, found[i])
		}
	}
	return out, capped, nil
}

func (s *Server) meetings(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	if !canonical {
		return canonicalRedirect(c, roomPath(r, "meetings"))
	}
	ms, capped, err := s.meetingList(c, r)
	if err != nil {
		return err
	}
	v := meetingListView{Room: s.roomView(c.Request().Context(), r)}
	if capped {
		v.Capped = maxListedMeetings
	}
	for i := range ms {
		v.Meetings = append(v.Meetings, meetingSummary(r, &ms[i]))
	}
	return s.renderPage(c, http.StatusOK, "meetings", v)
}

func meetingPath(r store.Room, m id.EventID, rest string) string {
	return roomPath(r, "meeting", string(m)+rest)
}

func meetingSummary(r store.Room, m *meeting.Meeting) meetingSummaryView {
	start := time.UnixMilli(m.Start).UTC()
	v := meetingSummaryView{
		Path: meetingPath(r, m.ID, ""), TextPath: meetingPath(r, m.ID, ".txt"),
		Date: start.Format(dateLayout), Time: start.Format(timeLayout), DateTime: start.Format(time.RFC3339),
		Title: m.Title, Length: meetingLength(m), Ended: m.Ended,
		Topics: m.Topics(), Actions: len(m.Actions), Lines: m.Lines,
	}
	for _, c := range m.Chairs {
		v.Chairs = append(v.Chairs, minutesName(c.Name, c.Sender))
	}
	return v
}

// minutesName is the name minutes attribute something to, a name of
// sender's as the meeting package gives it: minutes are read apart from
// the room's pages (the text minutes pasted into a mailing list or a wiki,
// the feed), so a name that could pass for another user's ID is followed
// by the sender's, as attributedName writes it: @mallory named
// "@a:example.org" started meetings and agreed items as @a:example.org.
// A name the meeting package already followed with sender's ID (one two
// of its senders went by) is not followed by it twice, and a name with no
// sender (one #nick or #chair made an attendee, whom nobody went by) has
// no ID to add.
func minutesName(name string, sender id.UserID) string {
	if sender == "" || strings.HasSuffix(name, " ("+string(sender)+")") {
		return name
	}
	return attributedName(name, sender)
}

func meetingLength(m *meeting.Meeting) string {
	d := time.Duration(m.End-m.Start) * time.Millisecond
	if d < time.Minute {
		return "under a minute"
	}
	h, min := int(d.Hours()), int(d.Minutes())%60
	if h == 0 {
		return fmt.Sprintf("%d min", min)
	}
	return fmt.Sprintf("%d h %02d min", h, min)
}

// meetingAt loads the meeting a URL names: 404 when its start message is
// not a shown #startmeeting of this room.
func (s *Server) meetingAt(c echo.Context, r store.Room, raw string) (meeting.Meeting, error) {
	// A meeting is named by the event that starts it, as a permalink is.
	if err := eventIDSyntax(raw); err != nil {
		return meeting.Meeting{}, err
	}
	ctx := c.Request().Context()
	e, err := s.store.EventByID(ctx, id.EventID(raw))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return meeting.Meeting{}, err
	}
	if err != nil || e.RoomID != r.ID || !e.Public || !e.Displayable() {
		return meeting.Meeting{}, notFound("No meeting of %s starts at %s.", roomName(r), raw)
	}
	m, ok, _, err := s.loadMeeting(ctx, r, e)
	if err != nil {
		return meeting.Meeting{}, err
	}
	if !ok {
		return meeting.Meeting{}, notFound("No meeting of %s starts at %s: that message is not a #startmeeting the archive shows.", roomName(r), raw)
	}
	if in, err := s.insideEarlierMeeting(ctx, r, e); err != nil {
		return meeting.Meeting{}, err
	} else if in != "" {
		return meeting.Meeting{}, notFound("No meeting of %s starts at %s: it was said during the meeting started at %s, and is a line of it.", roomName(r), raw, in)
	}
	return m, nil
}

// meetingOfPredecessor finds the room r replaced whose message raw is:
// minutes are named by the message that started the meeting under the
// alias the archive gave out, and an upgrade moves the alias to the new
// room, so a link pasted into a wiki before it is sent to the old room's
// minutes, as a thread's is (threadElsewhere) and a permalink is to its
// message. Anything else is meetingAt's to answer.
func (s *Server) meetingOfPredecessor(c echo.Context, r store.Room, raw string) (store.Room, bool, error) {
	if eventIDSyntax(raw) != nil {
		return store.Room{}, false, nil
	}
	ctx := c.Request().Context()
	e, err := s.store.EventByID(ctx, id.EventID(raw))
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.RoomID == r.ID) {
		return store.Room{}, false, nil
	}
	if err != nil {
		return store.Room{}, false, err
	}
	preds, err := s.predecessors(ctx, r)
	if err != nil {
		return store.Room{}, false, err
	}
	i := slices.IndexFunc(preds, func(p store.Room) bool { return p.ID == e.RoomID })
	if i < 0 {
		return store.Room{}, false, nil
	}
	return preds[i], true, nil
}

// maxNestChecks bounds the earlier meetings insideEarlierMeeting computes.
const maxNestChecks = 8

// insideEarlierMeeting is the ID of an earlier meeting of r that start
// (a #startmeeting) was said during, "" for none: the list has such a
// start as a line of that meeting (meetingList), and its own page had
// minutes, the earlier meeting's later lines among them. The nearest
// earlier starts within a meeting's longest span (meeting.MaxDuration),
// no more than maxNestChecks of them, are each computed as the list
// computes them, from one read of the lines from the earliest of them up
// to start's (a meeting that reaches start's line holds it), not a read
// of each meeting: a meeting page asked for that many more meetings'
// windows on every request.
func (s *Server) insideEarlierMeeting(ctx context.Context, r store.Room, start store.Event) (id.EventID, error) {
	starts, _, err := s.meetingStarts(ctx, r, start.OriginTS, start.OriginTS-meeting.MaxDuration, maxNestChecks+1)
	if err != nil {
		return "", err
	}
	var earlier []store.Event // nearest first
	for i := len(starts) - 1; i >= 0 && len(earlier) < maxNestChecks; i-- {
		st := starts[i]
		if !store.PositionOf(st).Before(store.PositionOf(start)) {
			continue
		}
		if st.OriginTS < start.OriginTS-meeting.MaxDuration {
			break
		}
		earlier = append(earlier, st)
	}
	if len(earlier) == 0 {
		return "", nil
	}
	lines, _, _, _, err := s.meetingLines(ctx, r, earlier[len(earlier)-1].OriginTS, start.OriginTS+1)
	if err != nil {
		return "", err
	}
	for _, st := range earlier {
		// From its own line, as loadMeeting reads it: names said before
		// a meeting chair people in it.
		k := slices.IndexFunc(lines, func(l meeting.Line) bool { return l.EventID == st.ID })
		if k < 0 {
			continue
		}
		if m, ok := meeting.At(lines[k:], st.ID); ok && m.Start <= start.OriginTS && start.OriginTS <= m.End {
			return m.ID, nil
		}
	}
	return "", nil
}

type meetingView struct {
	Room      roomView
	Summary   meetingSummaryView
	ListPath  string
	StartLink string
	EndLink   string
	EndTime   string
	Chairs    []string
	Sections  []meetingSectionView
	Actions   []meetingItemView
	ByPerson  []meetingPersonView
	// AssignedCapped is meeting.MaxAssigned when ByPerson was cut there.
	AssignedCapped int
	Unassigned     []meetingItemView
	People         []meetingPersonView
	HasUnlisted    bool
}

type meetingSectionView struct {
	Topic *meetingItemView
	Items []meetingItemView
}

type meetingItemView struct {
	Kind      string
	Label     string // INFO, ACTION… as meetbot writes them
	Text      template.HTML
	Name      string
	Time      string
	DateTime  string
	Permalink string
}

type meetingPersonView struct {
	Name    string
	ID      string
	Lines   int
	Actions []meetingItemView
}

// itemLabel is meetbot's prefix for an item in the minutes: its kind in
// capitals (AGREED, ACCEPTED, REJECTED, ACTION…, MeetBot's itemtype), none
// for a topic or an info.
func itemLabel(k meeting.Kind) string {
	if k == meeting.Info || k == meeting.Topic {
		return ""
	}
	return strings.ToUpper(string(k))
}

func (s *Server) meetingItem(r store.Room, it meeting.Item) meetingItemView {
	v := meetingItemView{Kind: string(it.Kind), Label: itemLabel(it.Kind), Text: s.render.Plain(it.Text), Name: minutesName(it.Name, it.Sender), Permalink: eventPath(r, it.EventID)}
	v.Time, v.DateTime = fmtTime(it.TS)
	return v
}

func (s *Server) meetingPage(c echo.Context) error {
	r, canonical, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	raw, err := param(c, "meeting")
	if err != nil {
		return err
	}
	raw, txt := strings.CutSuffix(raw, ".txt")
	suffix := ""
	if txt {
		suffix = ".txt"
	}
	if pred, ok, err := s.meetingOfPredecessor(c, r, raw); err != nil {
		return err
	} else if ok {
		return canonicalRedirect(c, meetingPath(pred, id.EventID(raw), suffix))
	}
	if !canonical {
		return canonicalRedirect(c, meetingPath(r, id.EventID(raw), suffix))
	}
	m, err := s.meetingAt(c, r, raw)
	if err != nil {
		return err
	}
	if txt {
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(meetingText(r, &m, s.absolute)))
	}
	v := meetingView{
		Room: s.roomView(c.Request().Context(), r), Summary: meetingSummary(r, &m), ListPath: roomPath(r, "meetings"),
		StartLink: eventPath(r, m.ID), EndLink: eventPath(r, m.EndID), EndTime: time.UnixMilli(m.End).UTC().Format(timeLayout),
	}
	for _, ch := range m.Chairs {
		v.Chairs = append(v.Chairs, minutesName(ch.Name, ch.Sender))
	}
	for _, sec := range m.Sections {
		sv := meetingSectionView{}
		if sec.Topic.EventID != "" {
			t := s.meetingItem(r, sec.Topic)
			sv.Topic = &t
		}
		for _, it := range sec.Items {
			sv.Items = append(sv.Items, s.meetingItem(r, it))
		}
		v.Sections = append(v.Sections, sv)
	}
	for _, a := range m.Actions {
		v.Actions = append(v.Actions, s.meetingItem(r, a))
	}
	for _, p := range m.ByPerson {
		pv := meetingPersonView{Name: minutesName(p.Person.Name, p.Person.Sender), ID: string(p.Person.Sender)}
		for _, a := range p.Actions {
			pv.Actions = append(pv.Actions, s.meetingItem(r, a))
		}
		v.ByPerson = append(v.ByPerson, pv)
	}
	if m.AssignedCapped {
		v.AssignedCapped = meeting.MaxAssigned
	}
	for _, a := range m.Unassigned {
		v.Unassigned = append(v.Unassigned, s.meetingItem(r, a))
	}
	for _, p := range m.People {
		v.People = append(v.People, meetingPersonView{Name: minutesName(p.Name, p.Sender), ID: string(p.Sender), Lines: p.Lines})
	}
	return s.renderPage(c, http.StatusOK, "meeting", v)
}

// meetingText writes minutes in the plain-text form of meetbot's .txt
// minutes, each item followed by its permalink. Names and texts go through
// logField like the text logs: a control character in a nick
// cannot forge a line. Names are minutesName's: a name shaped like another
// user's ID is followed by the sender's, as the text log writes it.
func meetingText(r store.Room, m *meeting.Meeting, abs func(string) string) string {
	var b strings.Builder
	title := logField(roomName(r))
	if m.Title != "" {
		title += ": " + logField(m.Title)
	}
	rule := strings.Repeat("=", max(len([]rune(title)), 10))
	fmt.Fprintf(&b, "%s\n%s\n%s\n\n\n", rule, title, rule)
	start := time.UnixMilli(m.Start).UTC()
	// The full logs are the day's page at the meeting's hour, at its first
	// line: a busy day's first page may not hold the meeting.
	logs := abs(roomPath(r, start.Format(dateLayout))) + "?hour=" + start.Format("15") + "#" + url.PathEscape(string(m.ID))
	fmt.Fprintf(&b, "Meeting started by %s at %s UTC.  The full logs are available at\n%s .\n\n\n",
		logField(minutesName(m.Owner.Name, m.Owner.Sender)), start.Format("2006-01-02 15:04:05"), logs)
	b.WriteString("Meeting summary\n---------------\n")
	item := func(indent string, it meeting.Item) {
		label := itemLabel(it.Kind)
		if label != "" {
			label += ": "
		}
		fmt.Fprintf(&b, "%s* %s%s  (%s, %s)\n%s  %s\n", indent, label, strings.Join(strings.Fields(logField(it.Text)), " "),
			logField(minutesName(it.Name, it.Sender)), time.UnixMilli(it.TS).UTC().Format("15:04:05"), indent, abs(eventPath(r, it.EventID)))
	}
	for _, sec := range m.Sections {
		indent := ""
		if sec.Topic.EventID != "" {
			item("", sec.Topic)
			indent = "  "
		}
		for _, it := range sec.Items {
			item(indent, it)
		}
	}
	end := time.UnixMilli(m.End).UTC().Format("2006-01-02 15:04:05")
	if m.Ended {
		fmt.Fprintf(&b, "\nMeeting ended at %s UTC.\n\n\n", end)
	} else {
		fmt.Fprintf(&b, "\nMeeting not ended with #endmeeting; its last line was at %s UTC.\n\n\n", end)
	}
	b.WriteString("Action items\n------------\n")
	if len(m.Actions) == 0 {
		b.WriteString("* (none)\n")
	}
	for _, a := range m.Actions {
		fmt.Fprintf(&b, "* %s\n", strings.Join(strings.Fields(logField(a.Text)), " "))
	}
	b.WriteString("\n\n\nAction items, by person\n-----------------------\n")
	for _, p := range m.ByPerson {
		fmt.Fprintf(&b, "* %s\n", logField(minutesName(p.Person.Name, p.Person.Sender)))
		for _, a := range p.Actions {
			fmt.Fprintf(&b, "  * %s\n", strings.Join(strings.Fields(logField(a.Text)), " "))
		}
	}
	if m.AssignedCapped {
		fmt.Fprintf(&b, "* (only the first %d of the actions' people are listed)\n", meeting.MaxAssigned)
	}
	if len(m.Unassigned) > 0 {
		b.WriteString("* **UNASSIGNED**\n")
		for _, a := range m.Unassigned {
			fmt.Fprintf(&b, "  * %s\n", strings.Join(strings.Fields(logField(a.Text)), " "))
		}
	}
	b.WriteString("\n\n\nPeople present (lines said)\n---------------------------\n")
	for _, p := range m.People {
		fmt.Fprintf(&b, "* %s (%d)\n", logField(minutesName(p.Name, p.Sender)), p.Lines)
	}
	b.WriteString("\n\n\nMinutes derived by mxarchive from the archived messages, meetbot's rules.\n")
	return b.String()
}
