package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// busyDay is a room whose 2026-01-01 holds n messages $m0… ("message i"),
// two of them at the same millisecond (the position must break the tie).
func busyDay(t *testing.T, n int) string {
	var lines []string
	for i := range n {
		ts := 1767225601000 + int64(i)*1000
		if i == 7 {
			ts -= 1000 // same origin_server_ts as $m6
		}
		lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), ts, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	lines = append(lines, msgLine("$other", 1767225601000+86400000, `{"msgtype":"m.text","body":"the next day"}`))
	return writeRoom(t, lines...)
}

// TestBusyDayHidesNothing: a day with more events than a page holds is
// split into pages that reach every message, the plain-text log holds
// them all (it once used the day page's capped query, so the messages
// past the cap were nowhere), and the JSON day says it is truncated and
// where it continues.
func TestBusyDayHidesNothing(t *testing.T) {
	const n = 12
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 5, APIDayPageSize: 5}, busyDay(t, n))
		const day = "/room/!x:example.org/2026-01-01"

		txt := e.get(t, day+".txt").Body.String()
		for i := range n {
			if !strings.Contains(txt, fmt.Sprintf("message %d\n", i)) {
				t.Errorf("text log lacks message %d:\n%s", i, txt)
			}
		}

		// HTML: follow the "later" links from the first page, then the
		// "earlier" links back; every message exactly once each way.
		var seen []string
		path, pages := day, 0
		for path != "" && pages < 10 {
			doc := e.page(t, path, http.StatusOK)
			pages++
			doc.Find("ol.timeline > li.msg").Each(func(_ int, s *goquery.Selection) {
				id, _ := s.Attr("id")
				seen = append(seen, id)
			})
			path, _ = doc.Find("a.page-next").First().Attr("href")
		}
		if want := expectedIDs(n); fmt.Sprint(seen) != fmt.Sprint(want) || pages != 3 {
			t.Errorf("pages (%d) show %v, want %v", pages, seen, want)
		}
		last := e.page(t, day+"?after="+url.QueryEscape("$m9"), http.StatusOK)
		if prev, _ := last.Find("a.page-prev").First().Attr("href"); prev != day+"?after="+url.QueryEscape("$m4") {
			t.Errorf("previous page link = %q", prev)
		}
		if first := e.page(t, day+"?after="+url.QueryEscape("$m0"), http.StatusOK); first.Find("a.page-prev").AttrOr("href", "") != day {
			t.Errorf("link back to the first page = %q", first.Find("a.page-prev").AttrOr("href", ""))
		}
		// A cursor that is no event of this day is a clear 400.
		for _, bad := range []string{"nope", "$unknown", "$other"} {
			if rec := e.get(t, day+"?after="+url.QueryEscape(bad)); rec.Code != http.StatusBadRequest {
				t.Errorf("?after=%s = %d", bad, rec.Code)
			}
		}

		// JSON: truncated, with the cursor to continue from.
		if pages := walkJSONDay(t, e, n); pages != 3 {
			t.Errorf("the JSON day is %d pages, want 3", pages)
		}

		// The permalink of a message past the first page links to the
		// page of the day that shows it.
		perma := e.page(t, "/room/!x:example.org/event/$m11", http.StatusOK)
		full, ok := perma.Find("a.full-day").Attr("href")
		if !ok {
			t.Fatal("permalink page has no link to the full day")
		}
		if li := msgByID(e.page(t, strings.SplitN(full, "#", 2)[0], http.StatusOK), "$m11"); li.Length() != 1 {
			t.Errorf("the full-day link %q does not lead to the message", full)
		}
	})
}

// expectedIDs: the room's own join is a state line, not a message.
func expectedIDs(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("$m%d", i))
	}
	return out
}

// TestBusyDayOpensAtEachHour: a day of several pages lists its hours with
// messages, and ?hour= opens it there.
func TestBusyDayOpensAtEachHour(t *testing.T) {
	var lines []string
	for i := range 8 {
		lines = append(lines, msgLine(fmt.Sprintf("$e%d", i), 1767225601000+int64(i)*1000, `{"msgtype":"m.text","body":"early"}`))
	}
	for i := range 3 {
		lines = append(lines, msgLine(fmt.Sprintf("$a%d", i), 1767225600000+13*3600000+int64(i)*1000, `{"msgtype":"m.text","body":"afternoon"}`))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 5}, writeRoom(t, lines...))
		const day = "/room/!x:example.org/2026-01-01"
		hours := e.page(t, day, http.StatusOK).Find("nav.hours a").Map(func(_ int, s *goquery.Selection) string { return s.Text() + " " + s.AttrOr("href", "") })
		if fmt.Sprint(hours) != "[00:00 "+day+"?hour=00 13:00 "+day+"?hour=13]" {
			t.Errorf("hours %v", hours)
		}
		doc := e.page(t, day+"?hour=13", http.StatusOK)
		ids := doc.Find("ol.timeline > li.msg").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("id", "") })
		if fmt.Sprint(ids) != "[$a0 $a1 $a2]" {
			t.Errorf("13:00 shows %v", ids)
		}
		if prev := doc.Find("a.page-prev").AttrOr("href", ""); prev != day+"?after="+url.QueryEscape("$e2") {
			t.Errorf("page before 13:00 = %q", prev)
		}
		for _, bad := range []string{"?hour=24", "?hour=1", "?hour=xx", "?hour=13&after=%24e1"} {
			if rec := e.get(t, day+bad); rec.Code != http.StatusBadRequest {
				t.Errorf("%s = %d", bad, rec.Code)
			}
		}
	})
}

// TestDayPagesSkipExpiredMessages: when a day's first page's worth of
// events have all expired, its later messages still show (a page
// screened empty used to end the day there, on the page and in the text
// log).
func TestDayPagesSkipExpiredMessages(t *testing.T) {
	const day = int64(1767225600000 + 86400000) // 2026-01-02
	cut := day + 12*3600000
	lifetime := time.Now().UnixMilli() - cut
	lines := []string{
		retentionLine(1767225603000, lifetime),
	}
	for i := range 3 {
		lines = append(lines, msgLine(fmt.Sprintf("$gone%d", i), day+int64(i+1)*3600000, `{"msgtype":"m.text","body":"expired"}`))
	}
	for i := range 2 {
		lines = append(lines, msgLine(fmt.Sprintf("$kept%d", i), day+int64(20+i)*3600000, fmt.Sprintf(`{"msgtype":"m.text","body":"kept %d"}`, i)))
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 2, APIDayPageSize: 2}, writeRoom(t, lines...))
			doc := e.page(t, "/room/!x:example.org/2026-01-02", http.StatusOK)
			ids := doc.Find("ol.timeline > li.msg").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("id", "") })
			if fmt.Sprint(ids) != "[$kept0 $kept1]" {
				t.Errorf("day shows %v", ids)
			}
			if txt := e.get(t, "/room/!x:example.org/2026-01-02.txt").Body.String(); !strings.Contains(txt, "kept 1") || strings.Contains(txt, "expired") {
				t.Errorf("text log:\n%s", txt)
			}
		})
	}
}

// TestFirstPageHoursAgreeWithTheStore: the first page of a day of several
// pages counts the hours it holds whole from its own events and asks the
// store only for the rest; its hour links (labels and counts) are those
// store.HourCounts gives, with a redacted message, an opted-out sender, an
// edit, a reaction, membership changes and polls among the counted hours.
func TestFirstPageHoursAgreeWithTheStore(t *testing.T) {
	const d0 = int64(1767225600000) // 2026-01-01
	at := func(h, s int) int64 { return d0 + int64(h)*3600000 + int64(s)*1000 }
	line := func(evID, sender string, ts int64, content string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.message","sender":%q,"origin_server_ts":%d,"content":%s}`, evID, sender, ts, content)
	}
	member := func(evID, user string, ts int64) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":"m.room.member","sender":%q,"origin_server_ts":%d,"state_key":%q,"content":{"membership":"join"}}`, evID, user, ts, user)
	}
	poll := func(evID, typ, sender string, ts int64, stateKey, content string) string {
		return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"origin_server_ts":%d,%s"content":%s}`, evID, typ, sender, ts, stateKey, content)
	}
	const pollContent = `{"m.poll.start":{"question":{"m.text":"Lunch?"},"answers":[{"id":"y","m.text":"Yes"}]}}`
	lines := []string{
		member("$jb", "@b:example.org", at(0, 10)),
		line("$h0a", "@a:example.org", at(0, 11), `{"msgtype":"m.text","body":"zero a"}`),
		line("$h0b", "@b:example.org", at(0, 12), `{"msgtype":"m.text","body":"zero b, opted out"}`),
		line("$h0c", "@a:example.org", at(0, 13), `{"msgtype":"m.text","body":"zero c, redacted"}`),
		redactionLine("$red", "@a:example.org", at(0, 14), "$h0c", "spam"),
		line("$h1a", "@a:example.org", at(1, 1), `{"msgtype":"m.text","body":"one a"}`),
		line("$h1e", "@a:example.org", at(1, 2), `{"msgtype":"m.text","body":"* one a, edited","m.new_content":{"msgtype":"m.text","body":"one a, edited"},"m.relates_to":{"rel_type":"m.replace","event_id":"$h1a"}}`),
		fmt.Sprintf(`{"event_id":"$re","room_id":"!x:example.org","type":"m.reaction","sender":"@a:example.org","origin_server_ts":%d,"content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$h1a","key":"👍"}}}`, at(1, 3)),
		member("$jc", "@c:example.org", at(1, 4)),
		line("$h1b", "@c:example.org", at(1, 5), `{"msgtype":"m.notice","body":"one b"}`),
		poll("$h1p", "m.poll.start", "@a:example.org", at(1, 6), "", pollContent),
		poll("$h1ps", "m.poll.start", "@a:example.org", at(1, 7), `"state_key":"",`, pollContent),
		poll("$h1pb", "org.matrix.msc3381.poll.start", "@b:example.org", at(1, 8), "", strings.ReplaceAll(pollContent, "m.poll.start", "org.matrix.msc3381.poll.start")),
		line("$h2a", "@a:example.org", at(2, 1), `{"msgtype":"m.text","body":"two a"}`),
		line("$h2b", "@a:example.org", at(2, 2), `{"msgtype":"m.text","body":"two b"}`),
		line("$h2c", "@a:example.org", at(2, 3), `{"msgtype":"m.text","body":"two c"}`),
		line("$h5a", "@a:example.org", at(5, 1), `{"msgtype":"m.text","body":"five a"}`),
		line("$h13a", "@a:example.org", at(13, 1), `{"msgtype":"m.text","body":"thirteen a"}`),
		poll("$h13p", "m.poll.start", "@a:example.org", at(13, 2), "", pollContent),
		poll("$h14p", "m.poll.start", "@a:example.org", at(14, 1), "", pollContent),
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		// The first page ends inside hour 02: it holds hours 00 and 01 whole.
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 13}, writeRoom(t, lines...))
		if _, err := st.OptOut(ctx, "@b:example.org", "operator"); err != nil {
			t.Fatal(err)
		}
		const day = "/room/!x:example.org/2026-01-01"
		doc := e.page(t, day, http.StatusOK)
		if doc.Find("a.page-next").Length() == 0 {
			t.Fatal("the day fits one page: the test needs several")
		}
		got := doc.Find("nav.hours a").Map(func(_ int, s *goquery.Selection) string { return s.Text() + " " + s.AttrOr("title", "") })
		counts, err := st.HourCounts(ctx, "!x:example.org", d0)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for h := range 24 {
			if n := counts[d0+int64(h)*3600000]; n > 0 {
				title := fmt.Sprintf("%d messages", n)
				if n == 1 {
					title = "1 message"
				}
				want = append(want, fmt.Sprintf("%02d:00 %s", h, title))
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("first page's hours %q\nstore.HourCounts     %q", got, want)
		}
		// Hour 00 counts one message and 01 three, a poll as a message
		// (as the calendar counts it): the redacted one, the opted-out
		// sender's message and poll, the edit, the reaction and the state
		// event of a poll's type are not counted. Hours 13 and 14, which
		// the store counts, count their polls too.
		if fmt.Sprint(want) != "[00:00 1 message 01:00 3 messages 02:00 3 messages 05:00 1 message 13:00 2 messages 14:00 1 message]" {
			t.Errorf("store.HourCounts %q", want)
		}
	})
}
