package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// heavyDay is a room whose 2026-01-01 holds n messages $m0… each of
// about size bytes of ampersands, which HTML and JSON write five and six
// times as long ("&amp;", "\u0026"): what a hostile member can post.
func heavyDay(t *testing.T, n, size int) string {
	var lines []string
	for i := range n {
		lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), 1767225601000+int64(i)*1000,
			fmt.Sprintf(`{"msgtype":"m.text","body":"%s message %d"}`, strings.Repeat("&", size), i)))
	}
	return writeRoom(t, lines...)
}

// TestHeavyDayPagedByBytes: a day of messages as large as a homeserver
// lets through is split into pages by their bytes as well as their
// number (Options.DayPageBytes and APIDayPageBytes, at their defaults
// here): each page is a few megabytes, not the whole day's (30 such
// messages were one page of 14 MB, 500 of them 234 MB, and a JSON day of
// 1 GB), and the pages still reach every message, forwards and back;
// the text log, read 8 MiB at a time, is whole; a permalink's window
// fits in the page its full-day link opens.
func TestHeavyDayPagedByBytes(t *testing.T) {
	const n, size = 30, 90000
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, heavyDay(t, n, size))
		const day = "/room/!x:example.org/2026-01-01"
		pages := walkDayPages(t, e, day, n)
		if len(pages) < 3 {
			t.Errorf("%d messages of %d bytes are on %d pages, want at least 3", n, size, len(pages))
		}
		for i, p := range pages {
			if p.bytes > 8<<20 {
				t.Errorf("page %d (%s) is %d bytes", i, p.path, p.bytes)
			}
		}
		if got := walkJSONDay(t, e, n); got < 2 {
			t.Errorf("the JSON day is %d pages, want at least 2", got)
		}
		rec := e.get(t, day+".txt")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
			t.Errorf("text log: %d, ETag %q (one read, answered whole)", rec.Code, rec.Header().Get("ETag"))
		}
		for i := range n {
			if !strings.Contains(rec.Body.String(), fmt.Sprintf(" message %d\n", i)) {
				t.Errorf("text log lacks message %d", i)
			}
		}
		checkFullDayLink(t, e, "$m29")
		checkFullDayLink(t, e, "$m15")
	})
}

// TestDayPageBytesOfOneEvent: with bounds below one event's bytes each
// page, JSON day and read of a text log holds one event (the room's
// state events too, on the first pages), and the links
// still reach each: the link back from a page cut by bytes to a single
// event opens the page of the event before it (found by one more read),
// the text log is streamed read by read.
func TestDayPageBytesOfOneEvent(t *testing.T) {
	const n = 6
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageBytes: 1, APIDayPageBytes: 1, TextReadBytes: 1}, busyDay(t, n))
		const day = "/room/!x:example.org/2026-01-01"
		pages := walkDayPages(t, e, day, n)
		for i, p := range pages {
			// The room's state events are pages of their own.
			if len(p.ids) > 1 {
				t.Errorf("page %d (%s) shows %v, want one message at most", i, p.path, p.ids)
			}
		}
		if got := walkJSONDay(t, e, n); got <= n {
			t.Errorf("the JSON day is %d pages, want one a message at least", got)
		}
		rec := e.get(t, day+".txt")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != "" {
			t.Errorf("text log: %d, ETag %q (streamed)", rec.Code, rec.Header().Get("ETag"))
		}
		for i := range n {
			if !strings.Contains(rec.Body.String(), fmt.Sprintf("message %d\n", i)) {
				t.Errorf("text log lacks message %d:\n%s", i, rec.Body.String())
			}
		}
		checkFullDayLink(t, e, "$m4")
	})
}

// dayPage is one page of a day as walkDayPages saw it.
type dayPage struct {
	path  string
	ids   []string
	bytes int
}

// walkDayPages follows a day's "later" links from its first page, then
// the "earlier" links back from its last, and checks that each way shows
// the day's n messages $m0… in order, every one: forwards each once,
// backwards (where pages cut by bytes may overlap) each at least once,
// back to the first page.
func walkDayPages(t *testing.T, e *env, day string, n int) []dayPage {
	t.Helper()
	var pages []dayPage
	var seen []string
	for path := day; path != "" && len(pages) <= 2*n; {
		rec := e.get(t, path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s = %d", path, rec.Code)
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
		if err != nil {
			t.Fatal(err)
		}
		p := dayPage{path: path, bytes: rec.Body.Len()}
		doc.Find("ol.timeline > li.msg").Each(func(_ int, s *goquery.Selection) {
			p.ids = append(p.ids, s.AttrOr("id", ""))
		})
		pages, seen = append(pages, p), append(seen, p.ids...)
		path, _ = doc.Find("a.page-next").First().Attr("href")
	}
	if fmt.Sprint(seen) != fmt.Sprint(expectedIDs(n)) {
		t.Errorf("the pages forwards show %v", seen)
	}
	back := map[string]bool{}
	path, steps := pages[len(pages)-1].path, 0
	for ; path != day && steps <= 2*n; steps++ {
		doc := e.page(t, path, http.StatusOK)
		doc.Find("ol.timeline > li.msg").Each(func(_ int, s *goquery.Selection) { back[s.AttrOr("id", "")] = true })
		prev, ok := doc.Find("a.page-prev").First().Attr("href")
		if !ok {
			t.Fatalf("%s has no link to an earlier page", path)
		}
		path = prev
	}
	if path != day {
		t.Fatalf("the earlier links did not lead back to the day's first page in %d steps", steps)
	}
	e.page(t, day, http.StatusOK).Find("ol.timeline > li.msg").Each(func(_ int, s *goquery.Selection) { back[s.AttrOr("id", "")] = true })
	for _, id := range expectedIDs(n) {
		if !back[id] {
			t.Errorf("the pages backwards never show %s", id)
		}
	}
	return pages
}

// walkJSONDay follows a JSON day's next_after cursors (a truncated page
// must give one) and checks its pages hold the n messages $m0… once
// each, in order; it returns how many pages.
func walkJSONDay(t *testing.T, e *env, n int) int {
	t.Helper()
	var got []string
	api, pages := "/api/v1/rooms/!x:example.org/events?date=2026-01-01", 0
	for pages <= 2*n {
		var out struct {
			Events []struct {
				ID   string `json:"event_id"`
				Type string `json:"type"`
			} `json:"events"`
			Truncated bool   `json:"truncated"`
			NextAfter string `json:"next_after"`
		}
		decode(t, e.get(t, api), http.StatusOK, &out)
		pages++
		for _, ev := range out.Events {
			if ev.Type == "m.room.message" {
				got = append(got, ev.ID)
			}
		}
		if !out.Truncated {
			break
		}
		if out.NextAfter == "" {
			t.Fatal("truncated JSON day without next_after")
		}
		api = "/api/v1/rooms/!x:example.org/events?date=2026-01-01&after=" + url.QueryEscape(out.NextAfter)
	}
	if !slices.Equal(got, expectedIDs(n)) {
		t.Errorf("the JSON day's pages hold %v", got)
	}
	return pages
}

// checkFullDayLink checks that the permalink page of evID shows it and
// links to a page of the day that shows it too.
func checkFullDayLink(t *testing.T, e *env, evID string) {
	t.Helper()
	perma := e.page(t, "/room/!x:example.org/event/"+url.PathEscape(evID), http.StatusOK)
	if msgByID(perma, evID).Length() != 1 {
		t.Errorf("the permalink page of %s does not show it", evID)
	}
	full, ok := perma.Find("a.full-day").Attr("href")
	if !ok {
		t.Fatalf("the permalink page of %s has no link to the full day", evID)
	}
	if msgByID(e.page(t, strings.SplitN(full, "#", 2)[0], http.StatusOK), evID).Length() != 1 {
		t.Errorf("the full-day link %q does not lead to %s", full, evID)
	}
}

// TestHeavyThreadAndEdits: a thread's page and a message's edit history
// show the latest replies and edits within a day page's bytes and say
// how many, however large the events (500 thread replies of 94,000
// ampersands were a thread page of 235 MB, 500 such edits an edit
// history of 118 MB); a reply left out is still shown by its permalink.
func TestHeavyThreadAndEdits(t *testing.T) {
	const n, size = 20, 90000
	amps := strings.Repeat("&", size)
	lines := []string{
		msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"the root"}`),
		msgLine("$orig", 1767225602000, `{"msgtype":"m.text","body":"the original"}`),
	}
	for i := range n {
		ts := 1767225603000 + int64(i)*1000
		lines = append(lines,
			msgLine(fmt.Sprintf("$t%d", i), ts, fmt.Sprintf(`{"msgtype":"m.text","body":"%s reply %d","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`, amps, i)),
			msgLine(fmt.Sprintf("$e%d", i), ts+1, fmt.Sprintf(`{"msgtype":"m.text","body":"* edit","m.new_content":{"msgtype":"m.text","body":"%s edit %d"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`, amps, i)))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, writeRoom(t, lines...))
		rec := e.get(t, "/room/!x:example.org/thread/$root")
		if rec.Code != http.StatusOK || rec.Body.Len() > 8<<20 {
			t.Fatalf("thread page: %d, %d bytes", rec.Code, rec.Body.Len())
		}
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(rec.Body.String()))
		if err != nil {
			t.Fatal(err)
		}
		shown := doc.Find("ol.timeline > li.msg").Length() - 1 // and the root
		if shown < 1 || shown >= n || msgByID(doc, fmt.Sprintf("$t%d", n-1)).Length() != 1 || msgByID(doc, "$t0").Length() != 0 {
			t.Errorf("the thread page shows %d replies, want the latest, not all %d", shown, n)
		}
		if want := fmt.Sprintf("only the latest %d are shown", shown); !strings.Contains(doc.Find("p.capped").Text(), want) {
			t.Errorf("the thread page says %q, want %q", doc.Find("p.capped").Text(), want)
		}
		if msgByID(e.page(t, "/room/!x:example.org/event/$t0", http.StatusOK), "$t0").Length() != 1 {
			t.Error("the permalink of a reply the thread page leaves out does not show it")
		}

		rec = e.get(t, "/room/!x:example.org/event/$orig/edits")
		if rec.Code != http.StatusOK || rec.Body.Len() > 8<<20 {
			t.Fatalf("edit history: %d, %d bytes", rec.Code, rec.Body.Len())
		}
		body := rec.Body.String()
		if !strings.Contains(body, fmt.Sprintf("Edit %d<", n)) || strings.Contains(body, "Edit 1<") || !strings.Contains(body, "Original") {
			t.Errorf("the edit history does not show the original and the latest edits only")
		}
		doc, err = goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := doc.Find("p.capped").Text(); !strings.HasPrefix(got, "Only the latest ") || strings.Contains(got, fmt.Sprint(n)) {
			t.Errorf("the edit history says %q", got)
		}
	})
}

// TestHeavyMeetingCut: a meeting's window of events is bounded by their
// JSON (meetingBytes, 4 MiB) as by their number: a meeting of lines as
// large as a homeserver lets through is cut there, not ended, as at
// meeting.MaxLines (its window of 20,000 such events would have been
// read whole, 1.9 GB).
func TestHeavyMeetingCut(t *testing.T) {
	const n, size = 60, 90000
	lines := []string{msgLine("$m0", 1767225601000, `{"msgtype":"m.text","body":"#startmeeting Heavy"}`)}
	for i := range n {
		lines = append(lines, msgLine(fmt.Sprintf("$l%d", i), 1767225602000+int64(i)*1000,
			fmt.Sprintf(`{"msgtype":"m.text","body":"%s line %d"}`, strings.Repeat("&", size), i)))
	}
	lines = append(lines, msgLine("$end", 1767225602000+n*1000, `{"msgtype":"m.text","body":"#endmeeting"}`))
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, writeRoom(t, lines...))
		var m apiMeetingJSON
		decode(t, e.get(t, "/api/v1/rooms/!x:example.org/meetings/$m0"), http.StatusOK, &m)
		if m.Ended || m.Lines < 30 || m.Lines > n {
			t.Errorf("meeting of %d lines of %d bytes: ended %v, %d lines; want it cut, not ended", n+2, size, m.Ended, m.Lines)
		}
		if rec := e.get(t, "/room/!x:example.org/meeting/$m0"); rec.Code != http.StatusOK || rec.Body.Len() > 32<<20 {
			t.Errorf("minutes: %d, %d bytes", rec.Code, rec.Body.Len())
		}
	})
}

// heavyRelations is a room whose 2026-01-01 holds six messages $m0…$m5,
// and whose next day holds what a hostile member can make of their
// relations: $m1 edited 100 times, $m2 reacted to 30 times and $m3
// replied to in a thread 30 times, each relation of some 90,000 bytes;
// $m0 and $m4 have a reaction of a few bytes.
func heavyRelations(t *testing.T) string {
	var lines []string
	for i := range 6 {
		lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), 1767225601000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	pad := strings.Repeat("&", 90000)
	ts := int64(1767225601000 + 86400000)
	line := func(evID, typ, sender, content string) string {
		ts++
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, sender, ts, content)
	}
	for i := range 100 {
		lines = append(lines, line(fmt.Sprintf("$e%d", i), "m.room.message", "@a:example.org",
			fmt.Sprintf(`{"msgtype":"m.text","body":"* edit","m.new_content":{"msgtype":"m.text","body":"edit %d %s"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m1"}}`, i, pad)))
	}
	for i := range 30 {
		lines = append(lines,
			line(fmt.Sprintf("$k%d", i), "m.reaction", fmt.Sprintf("@u%d:example.org", i),
				fmt.Sprintf(`{"pad":%q,"m.relates_to":{"rel_type":"m.annotation","event_id":"$m2","key":"k%d"}}`, pad, i)),
			line(fmt.Sprintf("$th%d", i), "m.room.message", "@b:example.org",
				fmt.Sprintf(`{"msgtype":"m.text","body":"reply %d %s","m.relates_to":{"rel_type":"m.thread","event_id":"$m3"}}`, i, pad)))
	}
	for _, target := range []string{"$m0", "$m4"} {
		lines = append(lines, line("$like"+target[1:], "m.reaction", "@b:example.org",
			fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"👍"}}`, target)))
	}
	return writeRoom(t, lines...)
}

// TestHeavyRelationsPagedByBytes: what a day's reads read of their
// messages' relations is bounded by its bytes as the events themselves
// are (Options.DayPageBytes, APIDayPageBytes and TextReadBytes, at their
// defaults here): a page ends before a message whose relations would
// take it past the bound, and such a message is a page of its own,
// with its latest edit and the latest of its replies and reactions,
// said to be only some. A page was all of them: 100 edits, 30 reactions
// and 30 thread replies of 90,000 bytes each, 14 MB, read for a page
// of six short messages (the day was one page). The pages still reach
// each message, forwards and back; each shows its latest edit; the text
// log, whose reads are bounded the same way, is streamed whole where they
// reach the bound. A message's own pages (permalink, thread) read no
// more than store.MaxRelatedBytes of its relations of a kind.
func TestHeavyRelationsPagedByBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{}, heavyRelations(t))
		const day = "/room/!x:example.org/2026-01-01"
		pages := walkDayPages(t, e, day, 6)
		if len(pages) < 4 {
			t.Errorf("the day is %d pages, want $m1, $m2 and $m3 on pages of their own", len(pages))
		}
		for _, p := range pages {
			doc := e.page(t, p.path, http.StatusOK)
			for _, id := range p.ids {
				m := msgByID(doc, id)
				switch text := m.Text(); id {
				case "$m1":
					if !strings.Contains(text, "edit 99 ") || strings.Contains(text, "message 1") {
						t.Errorf("%s shows $m1 without its latest edit: %.200q", p.path, text)
					}
					if len(p.ids) != 1 {
						t.Errorf("%s shows %v with $m1", p.path, p.ids)
					}
				case "$m2":
					if !strings.Contains(text, "Only the latest") || m.Find(".reactions li").Length() == 0 {
						t.Errorf("%s shows $m2's reactions as all of them, or none: %.300q", p.path, text)
					}
				case "$m3":
					if th := m.Find(".thread").Text(); !strings.Contains(th, "+ repl") {
						t.Errorf("%s shows $m3's thread as %q, want some replies and more", p.path, th)
					}
				case "$m0", "$m4":
					if !strings.Contains(text, "👍") {
						t.Errorf("%s shows %s without its reaction: %.300q", p.path, id, text)
					}
				}
			}
		}
		if got := walkJSONDay(t, e, 6); got < 4 {
			t.Errorf("the JSON day is %d pages, want at least 4", got)
		}
		// A message's own pages read no more than store.MaxRelatedBytes
		// of its relations of a kind, and say there may be more: 30
		// replies or reactions of 90,000 bytes are more.
		perma := e.page(t, "/room/!x:example.org/event/$m3", http.StatusOK)
		if th := msgByID(perma, "$m3").Find(".thread").Text(); !strings.Contains(th, "+ repl") || strings.HasPrefix(th, "30") {
			t.Errorf("the permalink of $m3 shows its thread as %q, want fewer than 30 replies and more", th)
		}
		perma = e.page(t, "/room/!x:example.org/event/$m2", http.StatusOK)
		if text := msgByID(perma, "$m2").Text(); !strings.Contains(text, "Only the latest") {
			t.Errorf("the permalink of $m2 shows its reactions as all of them: %.300q", text)
		}
		if capped := e.page(t, "/room/!x:example.org/thread/$m3", http.StatusOK).Find("p.capped").Text(); !strings.Contains(capped, "only the latest") {
			t.Errorf("the thread of $m3 says %q, want that only its latest replies are shown", capped)
		}
		perma = e.page(t, "/room/!x:example.org/event/$m1", http.StatusOK)
		if text := msgByID(perma, "$m1").Text(); !strings.Contains(text, "edit 99 ") {
			t.Errorf("the permalink of $m1 shows it without its latest edit: %.200q", text)
		}
		// The text log's reads are bounded the same way: at 1 MiB a read
		// (8 by default, more than the three kinds' 2 MiB each here),
		// $m1's edits are past a read's bound, and the log is streamed.
		rec := e.get(t, day+".txt")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
			t.Errorf("text log: %d, ETag %q (one read)", rec.Code, rec.Header().Get("ETag"))
		}
		whole := rec.Body.String()
		e = newEnvRender(t, st, render.New(render.Options{}), web.Options{TextReadBytes: 1 << 20}, heavyRelations(t))
		rec = e.get(t, day+".txt")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != "" {
			t.Errorf("text log: %d, ETag %q (streamed: $m1's edits are past a read's bound)", rec.Code, rec.Header().Get("ETag"))
		}
		body := rec.Body.String()
		if body != whole {
			t.Errorf("the text log streamed is not the log read at once")
		}
		for i := range 6 {
			want := fmt.Sprintf(" message %d\n", i)
			if i == 1 {
				want = " edit 99 &&&"
			}
			if strings.Count(body, want) != 1 {
				t.Errorf("text log has %q %d times", want, strings.Count(body, want))
			}
		}
	})
}
