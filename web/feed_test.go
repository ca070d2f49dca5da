package web_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Entries []struct {
		ID      string `xml:"id"`
		Title   string `xml:"title"`
		Updated string `xml:"updated"`
		Link    struct {
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Content struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func (e *env) feed(t *testing.T, path string) atomFeed {
	t.Helper()
	rec := e.get(t, path)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d: %s", path, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/atom+xml; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", path, ct)
	}
	if rec.Header().Get("X-Robots-Tag") != "noindex" || rec.Header().Get("ETag") == "" {
		t.Errorf("%s: headers %v", path, rec.Header())
	}
	var f atomFeed
	if err := xml.Unmarshal(rec.Body.Bytes(), &f); err != nil {
		t.Fatalf("%s: not an Atom feed: %v\n%s", path, err, rec.Body)
	}
	return f
}

// TestRoomFeed: newest first, permalinks as IDs, the edit's time as
// updated, the sanitized HTML as content; a redacted message leaves the
// feed at once; day pages link it; no base URL, no feed.
func TestRoomFeed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$f1", 1767225601000, `{"msgtype":"m.text","body":"first","format":"org.matrix.custom.html","formatted_body":"<b>first</b><script>alert(1)</script>"}`),
			msgLine("$f2", 1767225602000, `{"msgtype":"m.text","body":"second"}`),
			msgLine("$f2e", 1767225609000, `{"msgtype":"m.text","body":"* second, edited","m.new_content":{"msgtype":"m.text","body":"second, edited"},"m.relates_to":{"rel_type":"m.replace","event_id":"$f2"}}`),
		))
		const feed = "/room/!x:example.org/feed.atom"
		f := e.feed(t, feed)
		if len(f.Entries) != 2 {
			t.Fatalf("entries: %+v", f.Entries)
		}
		second, first := f.Entries[0], f.Entries[1]
		if second.ID != "https://archive.example/room/!x:example.org/event/$f2" || second.Link.Href != second.ID {
			t.Errorf("entry id %q link %q", second.ID, second.Link.Href)
		}
		if want := time.UnixMilli(1767225609000).UTC().Format(time.RFC3339); second.Updated != want || f.Updated != want {
			t.Errorf("updated: entry %q feed %q, want %q", second.Updated, f.Updated, want)
		}
		if !strings.Contains(second.Content.Body, "second, edited") || !strings.Contains(second.Title, "Ann") {
			t.Errorf("edited entry: %+v", second)
		}
		if first.Content.Type != "html" || !strings.Contains(first.Content.Body, "<b>first</b>") || strings.Contains(first.Content.Body, "script") {
			t.Errorf("content not the sanitized HTML: %q", first.Content.Body)
		}
		day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		if day.Find(`link[rel="alternate"][type="application/atom+xml"]`).AttrOr("href", "") != feed {
			t.Error("day page does not link its room's feed")
		}

		e.addEvents(t, redactionLine("$rd", "@a:example.org", 1767225700000, "$f1", "oops"))
		if f := e.feed(t, feed); len(f.Entries) != 1 || strings.Contains(f.Entries[0].ID, "$f1") {
			t.Errorf("redacted message still in the feed: %+v", f.Entries)
		}

		noBase, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rec := (&env{st: st, srv: noBase}).get(t, feed); rec.Code != http.StatusNotFound {
			t.Errorf("feed without a base URL = %d", rec.Code)
		}
	})
}

func TestSearchFeed(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$s1", 1767225601000, `{"msgtype":"m.text","body":"kiwi one"}`),
		msgLine("$s2", 1767225602000, `{"msgtype":"m.text","body":"kiwi two"}`),
		msgLine("$s3", 1767225603000, `{"msgtype":"m.text","body":"banana"}`),
	))
	e.withSearch(t)
	f := e.feed(t, "/search/feed.atom?q=kiwi")
	if len(f.Entries) != 2 || !strings.HasSuffix(f.Entries[0].ID, "$s2") || !strings.HasSuffix(f.Entries[1].ID, "$s1") {
		t.Errorf("search feed entries: %+v", f.Entries)
	}
	if rec := e.get(t, "/search/feed.atom?q="); rec.Code != http.StatusBadRequest {
		t.Errorf("empty search feed = %d", rec.Code)
	}
	// A feed is the newest matches: another order or a later page is
	// refused, as the search's other answers refuse what they cannot do.
	for path, want := range map[string]int{"&sort=newest": http.StatusOK, "&sort=oldest": http.StatusBadRequest,
		"&sort=garbage": http.StatusBadRequest, "&cursor=eyJvIjo5M30": http.StatusBadRequest} {
		if rec := e.get(t, "/search/feed.atom?q=kiwi"+path); rec.Code != want {
			t.Errorf("search feed %s = %d, want %d", path, rec.Code, want)
		}
	}
	doc := e.page(t, "/search?q=kiwi", http.StatusOK)
	if href := doc.Find(`link[rel="alternate"]`).AttrOr("href", ""); href != "/search/feed.atom?q=kiwi" {
		t.Errorf("search page feed link %q", href)
	}
	if doc.Find("a.feed-link").Length() != 1 {
		t.Error("the search page offers no feed of its words")
	}
	// Filters alone find messages but have no words to follow: the page
	// offers no feed, whose link would answer 400.
	for _, q := range []string{"from:@a:example.org", "on:2026-01-01", "in:!x:example.org"} {
		doc := e.page(t, "/search?q="+url.QueryEscape(q), http.StatusOK)
		if doc.Find("ol li").Length() == 0 {
			t.Errorf("%s found nothing", q)
		}
		if n := doc.Find(`link[rel="alternate"][type="application/atom+xml"], a.feed-link`).Length(); n != 0 {
			t.Errorf("%s: the page offers a feed (%d links) that answers %d", q, n, e.get(t, "/search/feed.atom?q="+url.QueryEscape(q)).Code)
		}
	}
}

// TestFeedsAndCalendarDropExpiredAndOptedOut: an expired message and an
// opted-out sender's messages leave the room feed, the calendar's counts
// and the jump at once, before any purge.
func TestFeedsAndCalendarDropExpiredAndOptedOut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			msgLine("$x1", 1767225601000, `{"msgtype":"m.text","body":"kept"}`),
			`{"event_id":"$bob1","room_id":"!x:example.org","type":"m.room.message","sender":"@bob:example.org","origin_server_ts":1767225602000,"content":{"msgtype":"m.text","body":"bob's"}}`,
		))
		if f := e.feed(t, "/room/!x:example.org/feed.atom"); len(f.Entries) != 2 {
			t.Fatalf("entries before: %d", len(f.Entries))
		}
		if _, err := st.OptOut(context.Background(), "@bob:example.org", "test"); err != nil {
			t.Fatal(err)
		}
		if f := e.feed(t, "/room/!x:example.org/feed.atom"); len(f.Entries) != 1 || !strings.HasSuffix(f.Entries[0].ID, "$x1") {
			t.Errorf("opted-out sender still in the feed: %+v", f.Entries)
		}
		month := e.page(t, "/room/!x:example.org/calendar/2026-01", http.StatusOK)
		if n := cell(month, "2026-01-01").Find(".count").Text(); n != "1" {
			t.Errorf("calendar counts an opted-out message: %q", n)
		}
	})
	st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true}})
	e := newEnv(t, st, writeRoom(t,
		msgLine("$old", 1767225601000, `{"msgtype":"m.text","body":"words that expire"}`),
		retentionLine(1767225602000, 2592000000),
	))
	if f := e.feed(t, "/room/!x:example.org/feed.atom"); len(f.Entries) != 0 {
		t.Errorf("expired message in the feed: %+v", f.Entries)
	}
	if cell(e.page(t, "/room/!x:example.org/calendar/2026", http.StatusOK), "2026-01-01").Find("a").Length() != 0 {
		t.Error("calendar links a day whose messages expired")
	}
}

// TestFeedTitlesIsolateWhatUsersWrote: a feed's and its entries' titles
// are plain text, where a name, a room name, a message or a meeting's
// topic holding U+202E turned the words after it around in a feed reader:
// each is isolated (U+2068…U+2069), as a page's <title> is.
func TestFeedTitlesIsolateWhatUsersWrote(t *testing.T) {
	const rlo, fsi, pdi = "\u202e", "\u2068", "\u2069"
	state := func(evID, typ, sender, key string, ts int64, content string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"state_key":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, sender, key, ts, content)
	}
	const ts = 1767225601000
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		state("$name", "m.room.name", "@a:example.org", "", ts, `{"name":"`+rlo+`evil"}`),
		state("$jb", "m.room.member", "@b:example.org", "@b:example.org", ts+1, `{"membership":"join","displayname":"Bob`+rlo+`"}`),
		pollLine("$m1", "m.room.message", "@b:example.org", ts+2, `{"msgtype":"m.text","body":"`+rlo+`olleh"}`),
		pollLine("$s", "m.room.message", "@a:example.org", ts+3, `{"msgtype":"m.text","body":"#startmeeting `+rlo+`plan"}`),
		pollLine("$e", "m.room.message", "@a:example.org", ts+4, `{"msgtype":"m.text","body":"#endmeeting"}`),
	))
	f := e.feed(t, "/room/!x:example.org/feed.atom")
	if want := fsi + rlo + "evil" + pdi + " · "; !strings.HasPrefix(f.Title, want) {
		t.Errorf("feed title %q, want it to begin %q", f.Title, want)
	}
	var entry string
	for _, en := range f.Entries {
		if strings.HasSuffix(en.ID, "$m1") {
			entry = en.Title
		}
	}
	if want := fsi + "Bob" + rlo + pdi + " in " + fsi + rlo + "evil" + pdi + ": " + fsi + rlo + "olleh" + pdi; entry != want {
		t.Errorf("entry title %q, want %q", entry, want)
	}
	m := e.feed(t, "/room/!x:example.org/meetings.atom")
	if want := "Meetings in " + fsi + rlo + "evil" + pdi + " · "; !strings.HasPrefix(m.Title, want) {
		t.Errorf("meetings feed title %q, want it to begin %q", m.Title, want)
	}
	if len(m.Entries) != 1 || !strings.HasPrefix(m.Entries[0].Title, fsi+rlo+"plan"+pdi+" (") {
		t.Errorf("meeting entries %+v, want one titled %q", m.Entries, fsi+rlo+"plan"+pdi)
	}
}

// TestPollsInFeedCalendarAndDays: a poll is something to read as a
// message is. A day whose only message is a poll is in the calendar (its
// poll counted), the sitemap and the links of the days beside it, and
// the room's feed has an entry for each poll: its question as the title,
// its question and answers, escaped, as the content. A redacted poll
// leaves all of them; an edit of a poll is in none; a start whose content
// is not a poll is counted and its page says it cannot be shown.
func TestPollsInFeedCalendarAndDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		poll := func(evID string, ts int64, question string) string {
			return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.poll.start","sender":"@a:example.org","origin_server_ts":%d,"content":{"m.poll.start":{"question":{"m.text":%q},"answers":[{"id":"y","m.text":"Yes <i>please</i>"},{"id":"n","m.text":"No"}]},"m.text":%[3]q}}`, evID, ts, question)
		}
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m1", 1767225601000, `{"msgtype":"m.text","body":"day one"}`),
			poll("$p2", 1767312001000, "Lunch <b>today</b>?"),
			msgLine("$m3", 1767398401000, `{"msgtype":"m.text","body":"day three"}`),
			poll("$p5", 1767571201000, "Dinner?"),
			// 2026-01-07: an edit of a poll, alone; 2026-01-08: a start
			// that is not a poll (no answers).
			`{"event_id":"$p2e","room_id":"!x:example.org","type":"m.poll.start","sender":"@a:example.org","origin_server_ts":1767744001000,"content":{"m.new_content":{"m.poll.start":{"question":{"m.text":"Edited?"},"answers":[{"id":"y","m.text":"Yes"}]}},"m.relates_to":{"rel_type":"m.replace","event_id":"$p2"}}}`,
			`{"event_id":"$p8","room_id":"!x:example.org","type":"m.poll.start","sender":"@a:example.org","origin_server_ts":1767830401000,"content":{"m.poll.start":{"question":{"m.text":"Broken?"}}}}`,
		))
		const room = "/room/!x:example.org"
		month := e.page(t, room+"/calendar/2026-01", http.StatusOK)
		for _, c := range []struct{ date, count string }{{"2026-01-01", "1"}, {"2026-01-02", "1"}, {"2026-01-03", "1"}, {"2026-01-05", "1"}, {"2026-01-07", ""}, {"2026-01-08", "1"}} {
			day := cell(month, c.date)
			link := room + "/" + c.date
			if c.count == "" {
				link = ""
			}
			if day.Find("a").AttrOr("href", "") != link || day.Find(".count").Text() != c.count {
				t.Errorf("calendar's %s: link %q, count %q, want %q and %q", c.date, day.Find("a").AttrOr("href", ""), day.Find(".count").Text(), link, c.count)
			}
		}
		// Each day the calendar links shows its poll.
		if q := e.page(t, room+"/2026-01-02", http.StatusOK).Find("li.poll .question").Text(); !strings.Contains(q, "Lunch <b>today</b>?") {
			t.Errorf("2026-01-02's poll: %q", q)
		}
		if q := e.page(t, room+"/2026-01-08", http.StatusOK).Find("li.poll .question").Text(); !strings.Contains(q, "cannot be shown") {
			t.Errorf("2026-01-08's poll that is not one: %q", q)
		}
		if rec := e.get(t, room+"/2026-01-08.txt"); !strings.Contains(rec.Body.String(), "Poll: (this poll cannot be shown") {
			t.Errorf("2026-01-08's text log:\n%s", rec.Body)
		}
		if href := e.page(t, room+"/2026-01-01", http.StatusOK).Find("a[rel=next]").First().AttrOr("href", ""); href != room+"/2026-01-02" {
			t.Errorf("2026-01-01's next day is %q, want the poll's day", href)
		}
		if href := e.page(t, room+"/2026-01-03", http.StatusOK).Find("a[rel=next]").First().AttrOr("href", ""); href != room+"/2026-01-05" {
			t.Errorf("2026-01-03's next day is %q, want the poll's day", href)
		}
		var set xmlURLSet
		e.getXML(t, "/sitemap/!x:example.org.xml", &set)
		var days []string
		for _, u := range set.URLs {
			days = append(days, u.Loc[strings.LastIndex(u.Loc, "/")+1:])
		}
		if got := strings.Join(days, " "); got != "2026-01-01 2026-01-02 2026-01-03 2026-01-05 2026-01-08" {
			t.Errorf("sitemap days = %s", got)
		}

		f := e.feed(t, room+"/feed.atom")
		// The start that is not a poll has no entry: there is nothing
		// to say of it but that.
		if len(f.Entries) != 4 {
			t.Fatalf("feed entries: %+v", f.Entries)
		}
		p := f.Entries[2]
		if !strings.HasSuffix(p.ID, "/event/$p2") || !strings.HasSuffix(p.Title, ": Poll: Lunch <b>today</b>?") {
			t.Errorf("poll entry: id %q, title %q", p.ID, p.Title)
		}
		if want := "<p><strong>Poll:</strong> Lunch &lt;b&gt;today&lt;/b&gt;?</p><ul><li>Yes &lt;i&gt;please&lt;/i&gt;</li><li>No</li></ul>"; p.Content.Type != "html" || p.Content.Body != want {
			t.Errorf("poll entry's content (%s) = %s\nwant %s", p.Content.Type, p.Content.Body, want)
		}

		redact := `{"event_id":"$x5","room_id":"!x:example.org","type":"m.room.redaction","sender":"@a:example.org","origin_server_ts":1767571202000,"redacts":"$p5","content":{"redacts":"$p5"}}`
		importFiles(t, st, ingest.ImportOptions{}, writeRoom(t, redact))
		if f := e.feed(t, room+"/feed.atom"); len(f.Entries) != 3 {
			t.Errorf("a redacted poll stays in the feed: %+v", f.Entries)
		}
		if cell(e.page(t, room+"/calendar/2026-01", http.StatusOK), "2026-01-05").Find("a").Length() != 0 {
			t.Error("the calendar links a day whose only poll was redacted")
		}
	})
}
