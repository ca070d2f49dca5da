package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
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
	// FullDay is the page of the day holding the message, with its
	// fragment; empty for state stamped after 9999 (store.LastDayMS).
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
	// The whole day's link: the day's page at the message (#id) when
	// that page holds it; else a page that starts just before it, ten
	// events back (a page of its own, but one that holds it: the script
	// sends a day page's #id it does not hold to this permalink). A page
	// ends at a bound of its events' count and bytes (OnFirstDayPage),
	// or of their relations' bytes (shownDay), which a member's large
	// edits of an earlier message can reach: then the page starting at the
	// message itself, right after the event before it.
	full := dayPagePath(r, date, "")
	start := store.Position{TS: from, NID: math.MinInt64}
	long := len(before) > k || more
	if long {
		first, err := s.store.OnFirstDayPage(ctx, r.ID, from, pos, s.opts.DayPageSize, s.opts.DayPageBytes)
		if err != nil {
			return err
		}
		if !first {
			// The page after before[0] starts at the event after it.
			full, start = dayPagePath(r, date, before[0].ID), pos
			if len(before) > 1 {
				start = store.PositionOf(before[1])
			}
		}
	}
	if len(before) > 0 {
		_, partial, cut, err := s.store.RelatedInUpTo(ctx, r.ID, start, pos, s.opts.DayPageBytes, false)
		if err != nil {
			return err
		}
		if cut && !pos.Before(partial) {
			full = dayPagePath(r, date, before[len(before)-1].ID)
		}
	}
	if long {
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
		Bot: s.opts.Bot, Room: s.roomView(ctx, r), Date: date, DateLong: day.Format("Monday, 2 January 2006"),
		// The ID path-escaped, as archive.js and a browser decode a
		// fragment: "$p%252" written raw was looked for as "$p%2".
		FullDay: full + "#" + url.PathEscape(string(ev.ID)),
	}
	if ev.OriginTS > store.LastDayMS {
		// State stamped past 9999 (a message is stored at its arrival,
		// store.clampPastDays): no day page reads its date.
		v.FullDay = ""
	}
	v.Room.HistoryNote = s.historyNote(ctx, r)
	var q renderQueue
	v.Items, err = s.timeline(ctx, r, evs, ev.ID, false, nil, &q)
	if err != nil {
		return err
	}
	if !holdsItem(v.Items, string(ev.ID)) {
		// An event of a kind no page draws (power levels, join rules,
		// state of another key, a custom type): its neighbours, titled
		// as a message of its sender with nothing highlighted, and a
		// whole day's #fragment the day does not hold, pointed at the
		// wrong thing.
		return notShown(ev)
	}
	link := s.absolute(eventPath(r, ev.ID))
	when := time.UnixMilli(ev.OriginTS).UTC()
	v.Meta = &pageMeta{
		Title:     fmt.Sprintf("%s in %s, %s", isolated(attributedName(ev.SenderName, ev.Sender)), isolated(roomName(r)), when.Format("2 January 2006")),
		Canonical: link, Published: when.Format(time.RFC3339), SiteName: s.opts.SiteName,
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
		attributed := attributedName(ev.SenderName, ev.Sender)
		cite := &citeView{URL: link}
		v.Cite = cite
		access := s.now().UTC().Format(dateLayout)
		v.AccessDate = access
		q.text(sh.msg, 0, func(text string) {
			short := excerpt(text, 200)
			v.Meta.Title = fmt.Sprintf("%s: “%s” · %s", isolated(attributed), isolated(excerpt(text, 70)), isolated(roomName(r)))
			v.Meta.Description = short
			*cite = citations(citeFacts{
				URL: link, Author: author, AuthorID: string(ev.Sender), Room: roomName(r), Site: s.opts.SiteName,
				When: when, AccessDate: access, Quote: text,
			})
		})
	}
	// v goes by pointer: the queue's callbacks fill it in after the ETag.
	return s.renderValidated(c, http.StatusOK, "permalink", &v, &q, time.Time{})
}

// holdsItem says whether one of items is the event id, a member event
// within a run of them too.
func holdsItem(items []itemView, id string) bool {
	for _, it := range items {
		switch {
		case it.Message != nil && it.Message.ID == id, it.Poll != nil && it.Poll.ID == id, it.State != nil && it.State.ID == id:
			return true
		case it.Members != nil:
			for _, m := range it.Members.Changes {
				if m.ID == id {
					return true
				}
			}
		}
	}
	return false
}

// notShown is the answer to the permalink of an event the archive holds
// but no page draws: a 404 that says what it is (its type, and its state
// key where the key says which state), not a page of its neighbours.
func notShown(ev store.Event) error {
	kind := fmt.Sprintf("of type %q", truncateRunes(ev.Type, 80))
	if ev.StateKey != nil && *ev.StateKey != "" {
		kind += fmt.Sprintf(" (state key %q)", truncateRunes(*ev.StateKey, 80))
	}
	return notFound("%s is an event %s, which the archive keeps but does not show: its pages show messages, polls and the changes to a room that readers follow (its members, name, topic, address and upgrades), not this kind of event.", ev.ID, kind)
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
// copy a whole essay. Each name and the quote is pasted elsewhere, among
// the citation's own words, so each is bidi-isolated (citeIsolated). An
// author's name that holds anything shaped like a user ID other than
// theirs is followed by their ID wherever it stands alone (attributedName):
// @mallory named "@a:example.org" was cited as "|author=@a:example.org".
func citations(f citeFacts) citeView {
	quote := strings.Join(strings.Fields(f.Quote), " ")
	if n := 500; len([]rune(quote)) > n {
		quote = string([]rune(quote)[:n-1]) + "…"
	}
	quote = citeIsolated(quote)
	author, authorID, room := citeIsolated(f.Author), citeIsolated(f.AuthorID), citeIsolated(f.Room)
	named := author // the Plain form follows every name with the ID
	if f.Author != f.AuthorID && holdsUserID(f.Author) {
		named = author + " (" + authorID + ")"
	}
	stamp := f.When.Format("2006-01-02 15:04 UTC")
	title := fmt.Sprintf("Message by %s in %s", named, room)
	return citeView{
		URL:   f.URL,
		Plain: fmt.Sprintf("%s (%s), %s, in %s: “%s” %s", author, authorID, stamp, room, quote, f.URL),
		Markdown: fmt.Sprintf("> %s\n\n— %s, [%s, %s](%s)", markdownEscape(quote), markdownEscape(named),
			markdownEscape(room), stamp, markdownURL(f.URL)),
		MediaWiki: fmt.Sprintf("{{cite web |url=%s |title=%s |author=%s |date=%s |website=%s |access-date=%s |quote=%s}}",
			wikiEscape(f.URL), wikiEscape(title), wikiEscape(named), f.When.Format(dateLayout), wikiEscape(f.Site),
			f.AccessDate, wikiEscape(quote)),
	}
}

// citeIsolated is a citation's field as isolated gives it (between U+2068
// and U+2069 when it holds right-to-left text or a bidi control), with
// every embedding or override it opens (U+202A, U+202B, U+202D, U+202E)
// closed by U+202C (pop directional formatting) before the isolate ends,
// and any U+202C that closes nothing of its own dropped. The isolate is
// enough where Unicode 6.3's isolates are known; the closing keeps an
// override from reversing the rest of the citation (user ID, date, URL)
// where they are not, yet the field shows as the archive shows it. Nothing
// is taken out but stray controls, so the quote stays the message's text.
func citeIsolated(s string) string {
	if !strings.ContainsFunc(s, turnsText) {
		return s
	}
	var b strings.Builder
	open := 0
	for _, r := range s {
		switch r {
		case '\u202a', '\u202b', '\u202d', '\u202e':
			open++
		case '\u202c':
			if open == 0 {
				continue
			}
			open--
		}
		b.WriteRune(r)
	}
	b.WriteString(strings.Repeat("\u202c", open))
	return isolated(b.String())
}

// wikiEscape keeps a value inside its template parameter: a pipe would
// start a new parameter, braces close the template, brackets make links,
// an ampersand start an entity ("&nbsp;" would show as a space), and
// markup would be markup: quotes, tildes (signatures), and two
// underscores, which may begin a behaviour switch (__NOTOC__, __NOINDEX__)
// that would act on the citing page. Each becomes its HTML entity, which
// MediaWiki shows as the character. Behaviour switches are matched before
// entities are read, so escaping each pair of underscores leaves no two
// side by side.
var wikiEscape = strings.NewReplacer(
	"&", "&amp;", "|", "&#124;", "{", "&#123;", "}", "&#125;", "[", "&#91;", "]", "&#93;",
	"<", "&lt;", ">", "&gt;", "'", "&#39;", "~", "&#126;", "__", "&#95;&#95;", "\n", " ", "\r", " ",
).Replace

// markdownEscape keeps a name or the quote plain text in Markdown. Every
// ASCII punctuation character, which CommonMark lets a backslash make
// literal, is escaped, but those it never reads as markup within a line
// (, ; : ? / % @ " ' . -), so prose stays readable; "&" is written "&amp;"
// (not every renderer takes a backslash before it). So nothing becomes a
// link, image, emphasis, code or entity ("&nbsp;"). The quote starts its
// line, so what would start a block there is escaped too: "-" ("---", "- a")
// and the "." after leading digits ("2. x"); the others ("***", "___",
// "+ 1", "2) x", "#", ">", "<div>", "```", "~~~", "=") are escaped
// anywhere. The quote is folded to one line with no leading space
// (citations), so it cannot be indented code either; a line break in a
// name becomes a space.
func markdownEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	digits := 0 // leading ASCII digits
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n' || c == '\r':
			b.WriteByte(' ')
		case c == '&':
			b.WriteString("&amp;")
		case markdownPunct(c), i == 0 && c == '-', i == digits && digits > 0 && c == '.':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// markdownPunct says whether c is ASCII punctuation that Markdown may read
// as markup within a line.
func markdownPunct(c byte) bool {
	switch c {
	case ',', ';', ':', '?', '/', '%', '@', '"', '\'', '.', '-':
		return false
	}
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// markdownURL keeps a URL inside its link's parentheses.
var markdownURL = strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace
