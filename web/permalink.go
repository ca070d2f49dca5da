package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mxarchive/mxarchive/store"
)

// The permalink page: the message with a few of its neighbours, so that a
// reader lands on it without script, a link to the page of its day that
// holds it, ready-made citations, and the tags that make a pasted link
// unfurl as the message.

// contextWindow is how many events before and after the message the
// permalink page shows.
const contextWindow = 10

type permalinkView struct {
	Bot      string
	Room     roomView
	Date     string
	DateLong string
	Day      time.Time
	// FullDay is the page of the day holding the message, with its
	// fragment.
	FullDay string
	Items   []itemView
	// Meta is the link preview; Cite the citations (empty for a message
	// that is not shown in full: deleted, a state change).
	Meta *pageMeta
	Cite *citeView
	// AccessDate is the citations' access-date, here so the ETag covers it.
	AccessDate string
}

// pageMeta is what a page tells crawlers and link unfurlers.
type pageMeta struct {
	Title       string
	Description string
	Canonical   string // absolute under base_url, else a path
	Published   string // RFC 3339
	SiteName    string
	Robots      string // the robots meta content, "" for the default
}

// citeView holds a message's citations, each a plain string the reader
// copies (the template escapes them).
type citeView struct {
	URL       string
	Plain     string
	Markdown  string
	MediaWiki string
}

func (s *Server) permalinkPage(c echo.Context, r store.Room, ev store.Event) error {
	ctx := c.Request().Context()
	day := time.UnixMilli(ev.OriginTS).UTC().Truncate(24 * time.Hour)
	date := day.Format(dateLayout)
	from, to := day.UnixMilli(), day.Add(24*time.Hour).UnixMilli()
	k := min(contextWindow, max(s.opts.DayPageSize/2, 1))
	pos := store.PositionOf(ev)
	// One more than the window before it, and half a day page's bytes
	// each side: if there is one more (or the bytes cut the window), the
	// page of the day that starts after the first event read holds the
	// whole window and the message (FullDay).
	window := max(s.opts.DayPageBytes/2, 1)
	before, more, err := s.store.DayPageBefore(ctx, r.ID, from, pos, k+1, window)
	if err != nil {
		return err
	}
	full := dayPagePath(r, date, "")
	if len(before) > k || more {
		full = dayPagePath(r, date, before[0].ID)
		before = before[1:]
	}
	// From the message on: (ts, nid-1) is before it and after any other
	// event, nids being unique.
	after, _, err := s.store.DayPage(ctx, r.ID, from, to, store.Position{TS: pos.TS, NID: pos.NID - 1}, k+1, window)
	if err != nil {
		return err
	}
	evs := append(before, after...)
	if len(after) == 0 || after[0].ID != ev.ID {
		// Screened out of the day (the caller refuses expired events, so
		// this is a race with a policy change): show it alone.
		evs = []store.Event{ev}
	}
	v := permalinkView{
		Bot: s.opts.Bot, Room: s.roomView(ctx, r), Date: date, DateLong: day.Format("Monday, 2 January 2006"), Day: day,
		FullDay: full + "#" + string(ev.ID),
	}
	v.Room.HistoryNote = s.historyNote(ctx, r)
	var q renderQueue
	v.Items, err = s.timeline(ctx, r, evs, ev.ID, false, nil, &q)
	if err != nil {
		return err
	}
	url := s.absolute(eventPath(r, ev.ID))
	when := time.UnixMilli(ev.OriginTS).UTC()
	v.Meta = &pageMeta{
		Title:     fmt.Sprintf("%s in %s, %s", isolated(displayName(ev.SenderName, ev.Sender)), isolated(roomName(r)), when.Format("2 January 2006")),
		Canonical: url, Published: when.Format(time.RFC3339), SiteName: s.opts.SiteName,
		Description: fmt.Sprintf("A message in %s, archived by %s.", isolated(roomName(r)), s.opts.SiteName),
	}
	if v.Meta.Robots, _, err = s.roomRobots(c, r); err != nil {
		return err
	}
	msgs, err := s.shownMessages(ctx, []store.Event{ev})
	if err != nil {
		return err
	}
	if sh := msgs[ev.ID]; sh != nil && sh.redaction == nil {
		author := displayName(ev.SenderName, ev.Sender)
		cite := &citeView{URL: url}
		v.Cite = cite
		access := s.now().UTC().Format(dateLayout)
		v.AccessDate = access
		q.text(sh.msg, 0, func(text string) {
			short := excerpt(text, 200)
			v.Meta.Title = fmt.Sprintf("%s: “%s” · %s", isolated(author), isolated(excerpt(text, 70)), isolated(roomName(r)))
			v.Meta.Description = short
			*cite = citations(citeFacts{
				URL: url, Author: author, AuthorID: string(ev.Sender), Room: roomName(r), Site: s.opts.SiteName,
				When: when, AccessDate: access, Quote: text,
			})
		})
	}
	// v goes by pointer: the queue's callbacks fill it in after the ETag.
	return s.renderValidated(c, http.StatusOK, "permalink", &v, &q, time.Time{})
}

// citeFacts is what a citation names.
type citeFacts struct {
	URL, Author, AuthorID, Room, Site string
	When                              time.Time
	AccessDate                        string // YYYY-MM-DD
	Quote                             string // the message's plain text
}

// citations writes a message's citation in each form. The quote is
// folded to one line and cut at 500 runes: a citation quotes, it does not
// copy a whole essay.
func citations(f citeFacts) citeView {
	quote := strings.Join(strings.Fields(f.Quote), " ")
	if n := 500; len([]rune(quote)) > n {
		quote = string([]rune(quote)[:n-1]) + "…"
	}
	stamp := f.When.Format("2006-01-02 15:04 UTC")
	title := fmt.Sprintf("Message by %s in %s", f.Author, f.Room)
	return citeView{
		URL:   f.URL,
		Plain: fmt.Sprintf("%s (%s), %s, in %s: “%s” %s", f.Author, f.AuthorID, stamp, f.Room, quote, f.URL),
		Markdown: fmt.Sprintf("> %s\n\n— %s, [%s, %s](%s)", markdownEscape(quote), markdownEscape(f.Author),
			markdownEscape(f.Room), stamp, markdownURL(f.URL)),
		MediaWiki: fmt.Sprintf("{{cite web |url=%s |title=%s |author=%s |date=%s |website=%s |access-date=%s |quote=%s}}",
			wikiEscape(f.URL), wikiEscape(title), wikiEscape(f.Author), f.When.Format(dateLayout), wikiEscape(f.Site),
			f.AccessDate, wikiEscape(quote)),
	}
}

// wikiEscape keeps a value inside its template parameter: a pipe would
// start a new parameter, braces close the template, brackets make links,
// and markup would be markup. Each becomes its HTML entity, which
// MediaWiki shows as the character.
var wikiEscape = strings.NewReplacer(
	"|", "&#124;", "{", "&#123;", "}", "&#125;", "[", "&#91;", "]", "&#93;",
	"<", "&lt;", ">", "&gt;", "'", "&#39;", "~", "&#126;", "\n", " ", "\r", " ",
).Replace

// markdownEscape backslash-escapes what Markdown would read as markup, so
// a name or quote cannot become a link, an image or emphasis.
var markdownEscape = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`,
	"<", `\<`, ">", `\>`, "#", `\#`, "!", `\!`, "|", `\|`, "~", `\~`, "\n", " ", "\r", " ",
).Replace

// markdownURL keeps a URL inside its link's parentheses.
var markdownURL = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace
