package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/store"
)

// Searcher is what the web needs of the search index.
type Searcher interface {
	Search(ctx context.Context, req indexer.Request) (indexer.Result, error)
}

// searchTimeout bounds one search; past it the reader gets a 503 with a
// message, not a hanging page.
const searchTimeout = 3 * time.Second

type searchView struct {
	Q        string
	In       string
	Sort     string
	Rooms    []roomOption
	Error    string
	Searched bool
	Results  []searchHit
	Count    string // how many matches, as far as they were verified
	NextPath string
	// Feed: the query can be followed as a feed (searchFeed takes it: it
	// has words to follow).
	Feed bool
}

type roomOption struct {
	Value    string
	Name     string
	Selected bool
}

type searchHit struct {
	RoomName   string
	RoomPath   string
	SenderName string
	SenderID   string
	Time       string
	DateTime   string
	TS         int64 // UTC ms (data-ts)
	Snippet    template.HTML
	Permalink  string
	MatrixTo   string
}

type apiSearchHit struct {
	EventID    string `json:"event_id"`
	RoomID     string `json:"room_id"`
	RoomName   string `json:"room_name"`
	Sender     string `json:"sender"`
	SenderName string `json:"sender_name,omitempty"`
	Time       string `json:"time"`
	Text       string `json:"text"`
	// EditUnread: the message was edited and its latest version was
	// not read within the results' bound on edits (shownTexts, a page of
	// messages each edited into tens of kilobytes): Text says so instead
	// of being the message's; /api/v1/events/{event_id} has it.
	EditUnread bool `json:"latest_edit_unread,omitempty"`
	// Poll: the result is a poll's start, and Text its question and
	// answers on one line (pollSearchText); Poll has them as they are.
	// Its votes are on its page and in /api/v1/events/{event_id}.
	Poll      *apiSearchPoll `json:"poll,omitempty"`
	Highlight string         `json:"highlight_html"`
	Permalink string         `json:"permalink"`
	MatrixTo  string         `json:"matrix_to"`
}

// apiSearchPoll is a poll found by search: what was searched, its question
// and answers.
type apiSearchPoll struct {
	Question string   `json:"question"`
	Answers  []string `json:"answers"`
}

// pollSearchText is a poll as a search result shows it, on one line as
// the text log does (logField), without its votes: "Poll: question
// [answer | answer]". Each part is isolated: right-to-left text or a bidi
// control in one turns neither the others nor the brackets around them.
func pollSearchText(p event.Poll) string {
	var b strings.Builder
	b.WriteString("Poll: " + isolated(logField(p.Question)) + " [")
	for i, a := range p.Answers {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(isolated(logField(a.Text)))
	}
	b.WriteString("]")
	return b.String()
}

// searchParams reads q, in, sort, size and cursor into a request.
func searchParams(c echo.Context) (indexer.Request, error) {
	var req indexer.Request
	qs := c.QueryParam("q")
	if in := strings.TrimSpace(c.QueryParam("in")); in != "" {
		// One room, as the form's select and a day page's search send
		// it: words after a space were read as the query's own
		// (?in=!x:example.org%20-word excluded the word).
		if strings.IndexFunc(in, unicode.IsSpace) >= 0 {
			return req, badRequest("?in= takes one room, an alias like #room:example.org or a room ID like !abc:example.org; put words and other filters in ?q=.")
		}
		qs += " in:" + in
	}
	q, err := indexer.ParseQuery(qs)
	if err != nil {
		return req, badRequest("%s", err.Error())
	}
	req.Query, req.Sort, req.Cursor = q, c.QueryParam("sort"), c.QueryParam("cursor")
	if s := c.QueryParam("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > indexer.MaxPageSize {
			return req, badRequest("size must be a number from 1 to %d.", indexer.MaxPageSize)
		}
		req.Size = n
	}
	return req, nil
}

func (s *Server) runSearch(c echo.Context, req indexer.Request) (indexer.Result, error) {
	if s.search == nil {
		return indexer.Result{}, &httpError{code: http.StatusServiceUnavailable, msg: "Search is not enabled on this archive."}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), searchTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.search.Search(ctx, req)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	s.opts.Metrics.observeSearch(req.Sort, err, time.Since(start))
	switch {
	case errors.Is(err, indexer.ErrBadRequest):
		return res, badRequest("%s", strings.TrimPrefix(err.Error(), indexer.ErrBadRequest.Error()+": "))
	case errors.Is(err, indexer.ErrRebuilding):
		return res, &httpError{code: http.StatusServiceUnavailable, msg: "The search index is being rebuilt (the archive moved to another database). Search answers again once it is done; please try again in a few minutes.", err: err}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return res, &httpError{code: http.StatusServiceUnavailable, msg: "The search took too long. Try fewer or rarer words, or narrow it to a room or dates.", err: err}
	}
	return res, err
}

// searchTerms are the words and phrases to highlight.
func searchTerms(q indexer.Query) []string {
	return append(append([]string{}, q.Words...), q.Phrases...)
}

// hits shows verified events as results: their current text (latest edit,
// no reply fallback) from the store, with the query's terms marked.
func (s *Server) hits(c echo.Context, res indexer.Result, q indexer.Query) ([]searchHit, []apiSearchHit, error) {
	ctx := c.Request().Context()
	evs := res.Events
	msgs, err := s.shownTexts(ctx, evs)
	if err != nil {
		return nil, nil, err
	}
	rooms := res.Rooms // as the search's check read them
	if rooms == nil {
		rooms = map[id.RoomID]store.Room{}
	}
	var hits []searchHit
	var api []apiSearchHit
	for _, e := range evs {
		var text string
		var poll *apiSearchPoll
		sh := msgs[e.ID]
		switch {
		case e.PollStart():
			p, ok := event.ParsePoll(e.Content)
			if !ok || e.Redacted || e.OptedOut {
				continue // the search's check let none of these through
			}
			text, poll = pollSearchText(p), &apiSearchPoll{Question: p.Question}
			for _, a := range p.Answers {
				poll.Answers = append(poll.Answers, a.Text)
			}
		case sh == nil || sh.redaction != nil:
			continue // redacted since it was verified: still never shown
		default:
			text = s.render.Text(sh.msg)
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("search results: %w", err)
		}
		r, ok := rooms[e.RoomID]
		if !ok {
			if r, err = s.store.Room(ctx, e.RoomID); err != nil {
				return nil, nil, err
			}
			rooms[e.RoomID] = r
		}
		short, iso := fmtTime(e.OriginTS)
		h := searchHit{
			RoomName: roomName(r), RoomPath: roomPath(r), SenderName: displayName(e.SenderName, e.Sender), SenderID: string(e.Sender),
			Time: time.UnixMilli(e.OriginTS).UTC().Format("2006-01-02") + " " + short, DateTime: iso, TS: e.OriginTS,
			Snippet: s.render.Highlight(text, searchTerms(q)), Permalink: eventPath(r, e.ID),
		}
		if !fromIRC(e.ID) { // no homeserver knows an IRC line
			h.MatrixTo = event.MatrixToEvent(string(r.ID), e.ID, s.viaServers(ctx, r))
		}
		hits = append(hits, h)
		api = append(api, apiSearchHit{EventID: string(e.ID), RoomID: string(r.ID), RoomName: h.RoomName, Sender: h.SenderID,
			SenderName: capName(e.SenderName), Time: iso, Text: text, EditUnread: sh != nil && sh.editUnread, Poll: poll, Highlight: string(h.Snippet), Permalink: s.absolute(h.Permalink), MatrixTo: h.MatrixTo})
	}
	return hits, api, nil
}

// searchPage serves /search: the form, and results when there is a query.
func (s *Server) searchPage(c echo.Context) error {
	ctx := c.Request().Context()
	// The form shows what was asked, whose bytes need not be UTF-8.
	shown := func(name string) string { return strings.ToValidUTF8(c.QueryParam(name), "\uFFFD") }
	v := searchView{Q: shown("q"), In: shown("in"), Sort: shown("sort")}
	rooms, _, err := s.store.RoomsUpTo(ctx, store.MaxDirectoryRooms)
	if err != nil {
		return err
	}
	// The rooms offered are the listed ones (listing.go), and the one
	// asked for, which its reader knows.
	unlisted, err := s.unlisted(ctx, roomIDs(rooms))
	if err != nil {
		return err
	}
	v.Rooms = append(v.Rooms, roomOption{Value: "", Name: "All rooms", Selected: v.In == ""})
	for _, r := range rooms {
		val := r.Alias // the alias in:# resolves to this room
		if val == "" {
			val = string(r.ID)
		}
		selected := v.In == val || v.In == string(r.ID)
		if unlisted[r.ID] && !selected {
			continue
		}
		v.Rooms = append(v.Rooms, roomOption{Value: val, Name: roomName(r), Selected: selected})
	}
	if strings.TrimSpace(v.Q) == "" && strings.TrimSpace(v.In) == "" && c.QueryParam("cursor") == "" {
		return s.renderPage(c, http.StatusOK, "search", v)
	}
	req, err := searchParams(c)
	var res indexer.Result
	if err == nil {
		res, err = s.runSearch(c, req)
	}
	// A bad query, or a search that is off or too slow: show the form
	// again with the message, not a bare error page.
	if he := (*httpError)(nil); errors.As(err, &he) && (he.code < 500 || he.code == http.StatusServiceUnavailable) {
		v.Error = messageShown(he.msg) // as the error pages show theirs
		if errors.Is(err, indexer.ErrRebuilding) {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retryAfter.Seconds())))
		}
		return s.renderPage(c, he.code, "search", v)
	}
	if err != nil {
		return err
	}
	v.Searched, v.Count = true, countText(res)
	v.Feed = followable(req)
	if v.Results, _, err = s.hits(c, res, req.Query); err != nil {
		return err
	}
	if res.Next != "" {
		q := c.QueryParams()
		q.Set("cursor", res.Next)
		v.NextPath = "/search?" + q.Encode()
	}
	return s.renderPage(c, http.StatusOK, "search", v)
}

// followable says whether a search can be followed as a feed
// (searchFeed): it has words or phrases to follow; filters alone (is:poll,
// from:, in:) are not offered one.
func followable(req indexer.Request) bool {
	return len(req.Query.Words)+len(req.Query.Phrases) > 0
}

// countText says how many verified matches there are: all of them when
// the index had no more, else at least those (the index's own count would
// include hits the store rejects, such as redacted messages).
func countText(res indexer.Result) string {
	switch {
	case !res.Exact:
		return fmt.Sprintf("At least %d matches.", res.Total)
	case res.Total == 1:
		return "1 match."
	}
	return fmt.Sprintf("%d matches.", res.Total)
}

// apiSearch serves GET /api/v1/search with the same parameters as /search.
func (s *Server) apiSearch(c echo.Context) error {
	req, err := searchParams(c)
	if err != nil {
		return err
	}
	res, err := s.runSearch(c, req)
	if err != nil {
		return err
	}
	_, hits, err := s.hits(c, res, req.Query)
	if err != nil {
		return err
	}
	if hits == nil {
		hits = []apiSearchHit{}
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	// total_estimate keeps its name for existing scripts; it is a count of
	// verified matches, exact when total_exact, else a lower bound.
	return c.JSON(http.StatusOK, map[string]any{"results": hits, "next_cursor": res.Next, "total_estimate": res.Total, "total_exact": res.Exact})
}
