package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// readersRoom has messages on 2026-01-01 (two, one full of markup that
// citations must not let through) and on 2026-01-05.
func readersRoom(t *testing.T) string {
	return writeRoom(t,
		msgLine("$a", 1767225601000, `{"msgtype":"m.text","body":"pipes | and {{braces}} and [x](y) ~~~~"}`),
		msgLine("$a2", 1767225602000, `{"msgtype":"m.text","body":"second"}`),
		msgLine("$b", 1767225601000+4*86400000, `{"msgtype":"m.text","body":"later"}`),
	)
}

func cell(doc *goquery.Document, date string) *goquery.Selection {
	return doc.Find("td").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.AttrOr("data-date", "") == date })
}

func TestCalendarAndJump(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, readersRoom(t))
		const room = "/room/!x:example.org"
		if loc := e.redirect(t, room+"?date=2026-01-01", http.StatusFound); loc != room+"/2026-01-01" {
			t.Errorf("jump to a day with messages = %q", loc)
		}
		// 2026-01-03: 2026-01-05 is nearer than 2026-01-01.
		loc := e.redirect(t, room+"?date=2026-01-03", http.StatusFound)
		if loc != room+"/2026-01-05?jumped=2026-01-03" {
			t.Errorf("jump to an empty day = %q", loc)
		}
		if note := e.page(t, loc, http.StatusOK).Find("p.jumped").Text(); !strings.Contains(note, "2026-01-03") {
			t.Errorf("no note that the day asked for was empty: %q", note)
		}
		if loc := e.redirect(t, room+"?date=2025-06-01", http.StatusFound); loc != room+"/2026-01-01?jumped=2025-06-01" {
			t.Errorf("jump before the first message = %q", loc)
		}
		if rec := e.get(t, room+"?date=yesterday"); rec.Code != http.StatusBadRequest {
			t.Errorf("?date=yesterday = %d", rec.Code)
		}
		// The day page links to the calendar and has a labelled date field.
		day := e.page(t, room+"/2026-01-01", http.StatusOK)
		if day.Find(`a.calendar-link[href="`+room+`/calendar/2026-01"]`).Length() != 1 || day.Find(`label[for="jump-date"]`).Length() != 1 {
			t.Error("day page lacks the calendar links or the labelled date field")
		}

		year := e.page(t, room+"/calendar/2026", http.StatusOK)
		if a := cell(year, "2026-01-01").Find("a"); a.AttrOr("href", "") != room+"/2026-01-01" || !cell(year, "2026-01-01").HasClass("heat-1") {
			t.Errorf("2026-01-01 in the year: %q", a.AttrOr("href", ""))
		}
		if cell(year, "2026-01-02").Find("a").Length() != 0 || !cell(year, "2026-01-02").HasClass("heat-0") {
			t.Error("an empty day links somewhere")
		}
		if n := year.Find("table.month").Length(); n != 12 {
			t.Errorf("year view has %d months", n)
		}
		if total := year.Find("p.calendar-total").Text(); !strings.HasPrefix(total, "3 messages") {
			t.Errorf("year total %q", total)
		}
		month := e.page(t, room+"/calendar/2026-01", http.StatusOK)
		if n := cell(month, "2026-01-01").Find(".count").Text(); n != "2" {
			t.Errorf("month view count for 2026-01-01 = %q", n)
		}
		if cell(month, "2026-02-01").Length() != 0 {
			t.Error("month view spills into the next month")
		}
		for _, bad := range []string{"26", "2026-13", "x", "0999"} {
			if rec := e.get(t, room+"/calendar/"+bad); rec.Code != http.StatusBadRequest {
				t.Errorf("calendar/%s = %d", bad, rec.Code)
			}
		}
		if loc := e.redirect(t, room+"/calendar", http.StatusFound); loc != room+"/calendar/2026" {
			t.Errorf("calendar = %q", loc)
		}
	})
}

func TestPermalinkPreviewAndCitations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, readersRoom(t))
		doc := e.page(t, "/room/!x:example.org/event/$a", http.StatusOK)
		const url = "https://archive.example/room/!x:example.org/event/$a"
		if got := doc.Find(`link[rel="canonical"]`).AttrOr("href", ""); got != url {
			t.Errorf("canonical = %q", got)
		}
		title := doc.Find("title").Text()
		if !strings.Contains(title, "Ann: “pipes | and {{braces}}") {
			t.Errorf("title = %q", title)
		}
		if d := doc.Find(`meta[name="description"]`).AttrOr("content", ""); !strings.HasPrefix(d, "pipes | and") {
			t.Errorf("description = %q", d)
		}
		if og := doc.Find(`meta[property="og:title"]`).AttrOr("content", ""); og == "" {
			t.Error("no og:title")
		}
		if li := msgByID(doc, "$a"); !li.HasClass("highlight") {
			t.Error("message not highlighted in its context window")
		}
		if msgByID(doc, "$a2").Length() != 1 || msgByID(doc, "$b").Length() != 0 {
			t.Error("context window is not the message's own day around it")
		}
		if full := doc.Find("a.full-day").AttrOr("href", ""); full != "/room/!x:example.org/2026-01-01#$a" {
			t.Errorf("full day link = %q", full)
		}
		wiki := doc.Find("#cite-wiki").Text()
		want := "{{cite web |url=" + url + " |title=Message by Ann in !x:example.org |author=Ann |date=2026-01-01 |website=mxarchive |access-date="
		if !strings.HasPrefix(wiki, want) {
			t.Errorf("cite web = %q, want prefix %q", wiki, want)
		}
		// The quote cannot end the template, add a parameter, link or sign.
		quote := wiki[strings.Index(wiki, "|quote=")+len("|quote="):]
		if strings.ContainsAny(strings.TrimSuffix(quote, "}}"), "|{}[]~") {
			t.Errorf("quote not escaped: %q", quote)
		}
		if md := doc.Find("#cite-markdown").Text(); !strings.Contains(md, `\[x\]\(y\)`) || !strings.HasSuffix(md, "("+url+")") {
			t.Errorf("markdown = %q", md)
		}
		if plain := doc.Find("#cite-plain").Text(); !strings.Contains(plain, "@a:example.org") || !strings.HasSuffix(plain, url) {
			t.Errorf("plain = %q", plain)
		}
		for _, id := range []string{"copy-url", "copy-wiki", "copy-plain", "copy-markdown"} {
			if doc.Find("button#"+id).Length() != 1 {
				t.Errorf("no copy button #%s", id)
			}
		}
	})
}
