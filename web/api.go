package web

import (
	"encoding/json"
	"errors"
	"maps"
	"time"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
)

// The JSON API, for scripts and bots. Shapes are stable: fields are only
// ever added.

type apiRoom struct {
	RoomID string `json:"room_id"`
	// Alias and AltAliases are the room's addresses that lead to it
	// (verified routes, as its URLs use: routedAliases); ClaimedAliases
	// are those its state names that do not (unverified, or another
	// room's): its claims only.
	Alias          string   `json:"canonical_alias,omitempty"`
	AltAliases     []string `json:"alt_aliases,omitempty"`
	ClaimedAliases []string `json:"unverified_aliases,omitempty"`
	Name           string   `json:"name"`
	Topic          string   `json:"topic,omitempty"`
	MessageCount   int64    `json:"message_count"`
	FirstMessage   string   `json:"first_message,omitempty"`
	LastActivity   string   `json:"last_activity,omitempty"`
	URL            string   `json:"url"`
	MatrixTo       string   `json:"matrix_to"`
	RoomVersion    string   `json:"room_version"`
	// PredecessorRoomID and SuccessorRoomID are given only for an
	// upgrade both rooms confirm, to a room the archive shows
	// (upgradeConfirmed); ClaimedPredecessor and ClaimedSuccessor are
	// what the room's own create event and tombstone name, confirmed
	// or not.
	PredecessorRoomID  string `json:"predecessor_room_id,omitempty"`
	SuccessorRoomID    string `json:"successor_room_id,omitempty"`
	ClaimedPredecessor string `json:"claimed_predecessor_room_id,omitempty"`
	ClaimedSuccessor   string `json:"claimed_successor_room_id,omitempty"`
}

type apiMessageContent struct {
	MsgType       string `json:"msgtype,omitempty"`
	Body          string `json:"body"`
	Format        string `json:"format,omitempty"`
	FormattedBody string `json:"formatted_body,omitempty"`
	URL           string `json:"url,omitempty"`
	FileName      string `json:"filename,omitempty"`
	// MediaURL is the archive's copy of url, when the archive keeps media.
	MediaURL string `json:"media_url,omitempty"`
	// Media, for a media message when the archive keeps media: "stored"
	// (served at media_url), "pending" (not archived yet) or
	// "unavailable" (refused, too large, the media store full, or
	// encrypted: no copy is coming by itself).
	Media string `json:"media,omitempty"`
}

type apiEvent struct {
	EventID        string             `json:"event_id"`
	RoomID         string             `json:"room_id"`
	Type           string             `json:"type"`
	Sender         string             `json:"sender"`
	SenderName     string             `json:"sender_name,omitempty"`
	OriginServerTS int64              `json:"origin_server_ts"`
	Time           string             `json:"time"`
	Content        *apiMessageContent `json:"content,omitempty"`
	// Text is the message's plain text as shown (reply fallback removed,
	// latest edit applied); HTML is its sanitized HTML.
	Text        string        `json:"text,omitempty"`
	HTML        string        `json:"html,omitempty"`
	Edited      bool          `json:"edited"`
	EditedAt    string        `json:"edited_at,omitempty"`
	InReplyTo   string        `json:"in_reply_to,omitempty"`
	ThreadRoot  string        `json:"thread_root,omitempty"`
	Reactions   []apiReaction `json:"reactions,omitempty"`
	ThreadCount int           `json:"thread_replies,omitempty"`
	// RelationsCapped: not every reaction or thread reply was loaded
	// (store.RelatedCapped: store.MaxRelated of a kind, or MaxRelatedBytes
	// of their JSON; or as many as a JSON day's bound on their bytes let
	// in); there may be more than reactions and thread_replies say.
	RelationsCapped bool   `json:"relations_truncated,omitempty"`
	Redacted        bool   `json:"redacted"`
	RedactedBy      string `json:"redacted_by,omitempty"`
	RedactedAt      string `json:"redacted_at,omitempty"`
	AppliedAt       string `json:"applied_at,omitempty"`
	Reason          string `json:"redaction_reason,omitempty"`
	// Withdrawn says why the content is gone: "message deleted",
	// "removed by the archive's operator", "hidden at the sender's request".
	Withdrawn string           `json:"withdrawn,omitempty"`
	Permalink string           `json:"permalink"`
	MatrixTo  string           `json:"matrix_to"`
	StateKey  *string          `json:"state_key,omitempty"`
	State     *json.RawMessage `json:"state_content,omitempty"`
	// Poll is an MSC3381 poll's question, answers and, when they are
	// shown (a disclosed poll, or an ended one), its votes.
	Poll *apiPoll `json:"poll,omitempty"`
	// links, when set, are the room's links, and Time, Permalink and
	// MatrixTo are left empty: appendJSON writes them from OriginServerTS,
	// EventID and links rather than from strings made for each event.
	links *eventLinks
}

type apiPoll struct {
	Question string          `json:"question"`
	Answers  []apiPollAnswer `json:"answers"`
	Ended    bool            `json:"ended"`
	EndedAt  string          `json:"ended_at,omitempty"`
	Voters   *int            `json:"voters,omitempty"`
	// Truncated: the votes of store.MaxPollVoters voters were counted,
	// or some voters' responses were too large to read
	// (store.PollVotesOversized), and there may be more.
	Truncated bool `json:"responses_truncated,omitempty"`
}

type apiPollAnswer struct {
	Text   string `json:"text"`
	Votes  *int   `json:"votes,omitempty"`
	Winner bool   `json:"winner,omitempty"`
}

// addPolls fills the poll of every poll start among evs (out[i] is
// evs[i]).
func (s *Server) addPolls(c echo.Context, r store.Room, evs []store.Event, out []apiEvent) error {
	polls, err := s.polls(c.Request().Context(), r, evs, "")
	if err != nil {
		return err
	}
	for i, e := range evs {
		pv, ok := polls[e.ID]
		if !ok || pv.Invalid { // no poll to give: its content is not one
			continue
		}
		p := &apiPoll{Question: pv.Question, Ended: pv.Ended, Truncated: pv.Capped || pv.Oversized}
		if pv.Ended {
			p.EndedAt = time.UnixMilli(pv.EndTS).UTC().Format(time.RFC3339)
		}
		if pv.ShowVotes {
			p.Voters = &pv.Voters
		}
		for _, a := range pv.Answers {
			pa := apiPollAnswer{Text: a.Text, Winner: a.Winner}
			if pv.ShowVotes {
				pa.Votes = &a.Votes
			}
			p.Answers = append(p.Answers, pa)
		}
		out[i].Poll = p
	}
	return nil
}

type apiReaction struct {
	Key     string   `json:"key"`
	Count   int      `json:"count"`
	Senders []string `json:"senders"` // display names, claims: see SenderIDs
	// SenderIDs are the user IDs of the senders, in Senders' order: a
	// name may be another member's, or another's user ID.
	SenderIDs []string `json:"sender_ids"`
}

type apiDay struct {
	RoomID   string     `json:"room_id"`
	Date     string     `json:"date"`
	Previous string     `json:"previous_date,omitempty"`
	Next     string     `json:"next_date,omitempty"`
	Events   []apiEvent `json:"events"`
	// Truncated: the day has more events than one response holds; the
	// rest follow with &after=NextAfter.
	Truncated bool   `json:"truncated,omitempty"`
	NextAfter string `json:"next_after,omitempty"`
}

// absolute turns a path into a URL on this archive: under base_url, else
// the path alone. Never from the request's Host or X-Forwarded-* headers:
// anyone can forge them, and a cache would serve the forged links to all.
func (s *Server) absolute(path string) string {
	return s.opts.BaseURL + path
}

func (s *Server) apiRooms(c echo.Context) error {
	ctx := c.Request().Context()
	rooms, more, err := s.store.RoomsUpTo(ctx, store.MaxDirectoryRooms)
	if err != nil {
		return err
	}
	if rooms, err = s.listed(ctx, rooms); err != nil {
		return err
	}
	// The rooms their upgrades name, read at once: most are listed.
	known := make(map[id.RoomID]store.Room, len(rooms))
	for _, r := range rooms {
		known[r.ID] = r
	}
	var ask []id.RoomID
	asked := map[id.RoomID]bool{}
	for _, r := range rooms {
		for _, o := range []id.RoomID{r.Predecessor, r.Successor} {
			if _, ok := known[o]; o != "" && !ok && !asked[o] {
				asked[o] = true
				ask = append(ask, o)
			}
		}
	}
	if len(ask) > 0 {
		more, err := s.store.RoomsByID(ctx, ask)
		if err != nil {
			return err
		}
		maps.Copy(known, more)
	}
	// Every room's alternative addresses' routes, in one read.
	var alts []string
	for _, r := range rooms {
		alts = append(alts, altAliasesOf(r)...)
	}
	routes, err := s.store.AliasRoutes(ctx, alts)
	if err != nil {
		return err
	}
	out := make([]apiRoom, 0, len(rooms))
	for _, r := range rooms {
		a, err := s.apiRoom(c, r, known, routes)
		if err != nil {
			return err
		}
		out = append(out, a)
	}
	resp := map[string]any{"rooms": out}
	if more {
		// Only the store.MaxDirectoryRooms most recently active rooms.
		resp["truncated"] = true
	}
	// Revalidated by its ETag, as the API's other answers are: it
	// changes as rooms come, go and are renamed.
	return s.jsonCached(c, resp, time.Time{})
}

// apiRoom is r as the API gives it; known holds the rooms r's upgrades
// name that the store knows, routes where its alt_aliases route
// (store.AliasRoutes).
func (s *Server) apiRoom(c echo.Context, r store.Room, known map[id.RoomID]store.Room, routes map[string]id.RoomID) (apiRoom, error) {
	ctx := c.Request().Context()
	a := apiRoom{
		RoomID: string(r.ID), Alias: r.Alias, Name: roomName(r), Topic: r.Topic,
		MessageCount: r.MessageCount, URL: s.absolute(roomPath(r)), RoomVersion: r.Version,
		ClaimedPredecessor: string(r.Predecessor), ClaimedSuccessor: string(r.Successor),
	}
	a.AltAliases, a.ClaimedAliases = routedAliasesIn(r, routes)
	var err error
	if p, ok := known[r.Predecessor]; ok && p.Shown() {
		if ok, err = s.upgradeConfirmed(ctx, p, r); err != nil {
			return apiRoom{}, err
		} else if ok {
			a.PredecessorRoomID = string(p.ID)
		}
	}
	if n, ok := known[r.Successor]; ok && n.Shown() {
		if ok, err = s.upgradeConfirmed(ctx, r, n); err != nil {
			return apiRoom{}, err
		} else if ok {
			a.SuccessorRoomID = string(n.ID)
		}
	}
	if !ircRoom(r) { // "" for a room an IRC import made, which no homeserver knows
		a.MatrixTo = event.MatrixToRoom(string(r.ID), s.viaServers(c.Request().Context(), r))
	}
	if r.FirstTS > 0 {
		a.FirstMessage = time.UnixMilli(r.FirstTS).UTC().Format(time.RFC3339)
	}
	if r.LastTS > 0 {
		a.LastActivity = time.UnixMilli(r.LastTS).UTC().Format(time.RFC3339)
	}
	return a, nil
}

func (s *Server) apiDay(c echo.Context) error {
	r, _, err := s.resolveRoom(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	date := c.QueryParam("date")
	if date == "" {
		return badRequest("The date parameter is required: ?date=2026-03-02 (UTC).")
	}
	day, from, to, err := parseDay(date)
	if err != nil {
		return err
	}
	// A day or cursor of a room r replaced, as the day page's.
	if p, err := s.predecessorDayPath(c, r, date, apiDayPath); p != "" || err != nil {
		return redirectOr(c, p, err)
	}
	key, err := s.pageKey(c, r, "api day "+date, "after")
	if err != nil {
		return err
	}
	if served, err := s.servePageKey(c, key, day); served {
		return err
	}
	pos, err := s.dayCursor(c, r, c.QueryParam("after"), from, to)
	if err != nil {
		return s.cursorElsewhere(c, r, date, err, apiDayPath)
	}
	release, err := s.takeDayRead(c)
	if err != nil {
		return err
	}
	defer release()
	d, err := s.loadDay(ctx, r, from, to, pos, s.opts.APIDayPageSize, s.opts.APIDayPageBytes)
	if err != nil {
		return err
	}
	evs, more, prev, next, msgs := d.evs, d.more, d.prev, d.next, d.msgs
	via := s.viaServers(ctx, r)
	out := apiDay{RoomID: string(r.ID), Date: date, Events: make([]apiEvent, len(evs))}
	if more && len(evs) > 0 {
		out.Truncated, out.NextAfter = true, string(evs[len(evs)-1].ID)
	}
	if prev > 0 {
		out.Previous = time.UnixMilli(prev).UTC().Format(dateLayout)
	}
	if next > 0 {
		out.Next = time.UnixMilli(next).UTC().Format(dateLayout)
	}
	// Two jobs per message: its text and its HTML.
	q := renderQueue{jobs: make([]renderJob, 0, 2*len(msgs))}
	links := newEventLinks(s.opts.BaseURL, r, via)
	contents := make([]apiMessageContent, len(evs))
	for i, e := range evs {
		s.apiEvent(e, msgs[e.ID], &links, &contents[i], &out.Events[i], &q)
	}
	if err := s.addPolls(c, r, evs, out.Events); err != nil {
		return err
	}
	return s.jsonValidated(c, &out, &q, day)
}

func (s *Server) apiEventHandler(c echo.Context) error {
	ctx := c.Request().Context()
	ev, r, err := s.publicEvent(c)
	if err != nil {
		return err
	}
	msgs, err := s.shownMessages(ctx, []store.Event{ev})
	if err != nil {
		return err
	}
	var out apiEvent
	var q renderQueue
	links := newEventLinks(s.opts.BaseURL, r, s.viaServers(ctx, r))
	s.apiEvent(ev, msgs[ev.ID], &links, new(apiMessageContent), &out, &q)
	one := []apiEvent{out}
	if err := s.addPolls(c, r, []store.Event{ev}, one); err != nil {
		return err
	}
	out.Poll = one[0].Poll
	if ev.Redacted && msgs[ev.ID] == nil {
		// A redacted non-message (state, reaction): still report who and when.
		if red, err := s.store.RedactionOf(ctx, ev.ID); err == nil {
			fillRedaction(&out, red)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return s.jsonValidated(c, &out, &q, time.Time{})
}

func fillRedaction(a *apiEvent, r store.Redaction) {
	a.Redacted = true
	a.RedactedBy = string(r.Sender)
	if !r.TS.IsZero() && r.Sender != "" {
		a.RedactedAt = r.TS.Format(time.RFC3339)
	}
	if !r.AppliedAt.IsZero() {
		a.AppliedAt = r.AppliedAt.Format(time.RFC3339)
	}
	a.Reason = withdrawnReason(r)
	a.Withdrawn = withdrawnNotice(r)
}

// apiEvent fills a with one event as shown, its text and HTML queued on q;
// sh is nil for non-message events. A message's content is written to
// content, the caller's (a day's are one allocation), left alone for
// other events and withdrawn messages; links are the room's, kept by a.
func (s *Server) apiEvent(e store.Event, sh *shown, links *eventLinks, content *apiMessageContent, a *apiEvent, q *renderQueue) {
	*a = apiEvent{
		EventID: string(e.ID), RoomID: string(e.RoomID), Type: e.Type, Sender: string(e.Sender),
		SenderName: capName(e.SenderName), OriginServerTS: e.OriginTS,
		InReplyTo: string(e.Rel.ReplyTo), Redacted: e.Redacted,
		links: links,
	}
	if e.Rel.Type == event.RelThread {
		a.ThreadRoot = string(e.Rel.EventID)
	}
	if e.IsState() {
		a.StateKey = e.StateKey
		if !e.Redacted {
			st := json.RawMessage(e.Content)
			a.State = &st
		}
	}
	if sh == nil {
		return
	}
	if sh.redaction != nil {
		fillRedaction(a, *sh.redaction)
		return
	}
	*content = apiMessageContent{MsgType: sh.msg.MsgType, FileName: sh.msg.FileName}
	a.Content = content
	// Only a valid mxc URI: anything else (a javascript: or https: URL,
	// a path) is the sender's, not media a client could fetch safely.
	if render.ValidMXC(sh.msg.URL) {
		content.URL = sh.msg.URL
		content.MediaURL = s.mediaURL(sh.msg.URL)
	}
	if render.IsMedia(sh.msg) {
		q.media(sh.msg, func(a render.MediaAvailability) {
			content.Media = map[render.MediaAvailability]string{render.MediaAvailable: "stored", render.MediaNotYet: "pending", render.MediaUnavailable: "unavailable"}[a]
		})
	}
	q.textInto(sh.msg, &content.Body, &a.Text)
	var formatted *string
	if sh.msg.IsHTML() {
		content.Format = event.FormatHTML
		formatted = &content.FormattedBody
	}
	q.htmlInto(sh.msg, &a.HTML, formatted)
	a.Edited = sh.edited
	if sh.edited {
		a.EditedAt = time.UnixMilli(sh.editedAt).UTC().Format(time.RFC3339)
	}
	for _, rc := range sh.reactions {
		a.Reactions = append(a.Reactions, apiReaction(rc))
	}
	a.ThreadCount = sh.thread.Count
	a.RelationsCapped = sh.reactionsCapped > 0 || sh.thread.More
}
