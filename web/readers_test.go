package web_test

import (
	"fmt"
	"net/http"
	"strconv"
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
		month := e.page(t, room+"/calendar/2026-01", http.StatusOK)
		if a := cell(year, "2026-01-01").Find("a"); a.AttrOr("href", "") != room+"/2026-01-01" || !cell(year, "2026-01-01").HasClass("heat-1") {
			t.Errorf("2026-01-01 in the year: %q", a.AttrOr("href", ""))
		}
		if cell(year, "2026-01-02").Find("a").Length() != 0 || !cell(year, "2026-01-02").HasClass("heat-0") {
			t.Error("an empty day links somewhere")
		}
		// The links lead towards the room's messages only.
		if year.Find("a[rel=prev]").Length() != 0 || year.Find("a[rel=next]").Length() != 0 {
			t.Error("the year of all the room's messages links to years without any")
		}
		if got := month.Find("a[rel=next]").AttrOr("href", "x"); got != "x" {
			t.Errorf("the month of the last message links to %q", got)
		}
		if n := year.Find("table.month").Length(); n != 12 {
			t.Errorf("year view has %d months", n)
		}
		if total := year.Find("p.calendar-total").Text(); !strings.HasPrefix(total, "3 messages") {
			t.Errorf("year total %q", total)
		}
		if n := cell(month, "2026-01-01").Find(".count").Text(); n != "2" {
			t.Errorf("month view count for 2026-01-01 = %q", n)
		}
		if cell(month, "2026-02-01").Length() != 0 {
			t.Error("month view spills into the next month")
		}
		// A month's calendar links to its year's, so both refuse the
		// same years.
		for _, bad := range []string{"26", "2026-13", "x", "0999", "0000-01", "1969-12", "1969"} {
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

func pollLine(evID, typ, sender string, ts int64, content string) string {
	return `{"event_id":"` + evID + `","room_id":"!x:example.org","type":"` + typ + `","sender":"` + sender + `","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPolls: a poll shows its question and answers (it was dropped
// before), only each voter's latest response before the end counts, an
// end from someone other than its creator is ignored, and the result shows
// once it has ended.
func TestPolls(t *testing.T) {
	const start = `{"org.matrix.msc3381.poll.start":{"question":{"org.matrix.msc1767.text":"Tabs or spaces?"},"kind":"org.matrix.msc3381.poll.undisclosed","max_selections":1,"answers":[{"id":"t","org.matrix.msc1767.text":"Tabs"},{"id":"s","org.matrix.msc1767.text":"Spaces <b>!</b>"}]},"org.matrix.msc1767.text":"Tabs or spaces?"}`
	ref := func(sel string) string {
		return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"org.matrix.msc3381.poll.response":{"answers":["` + sel + `"]}}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			pollLine("$poll", "org.matrix.msc3381.poll.start", "@a:example.org", 1767225601000, start),
			pollLine("$v1", "org.matrix.msc3381.poll.response", "@b:example.org", 1767225602000, ref("t")),
			pollLine("$v2", "org.matrix.msc3381.poll.response", "@b:example.org", 1767225603000, ref("s")),
			pollLine("$v3", "org.matrix.msc3381.poll.response", "@c:example.org", 1767225604000, ref("s")),
		))
		const day = "/room/!x:example.org/2026-01-01"
		poll := msgByID(e.page(t, day, http.StatusOK), "$poll")
		if q := poll.Find(".question").Text(); !strings.Contains(q, "Tabs or spaces?") {
			t.Fatalf("poll question %q", q)
		}
		if a := poll.Find(".answer-text").Map(func(_ int, s *goquery.Selection) string { return s.Text() }); strings.Join(a, "|") != "Tabs|Spaces <b>!</b>" {
			t.Errorf("answers %q", a)
		}
		if poll.Find(".votes").Length() != 0 || !strings.Contains(poll.Find(".poll-status").Text(), "when the poll ends") {
			t.Error("an open undisclosed poll shows its votes")
		}
		e.addEvents(t,
			pollLine("$fake", "org.matrix.msc3381.poll.end", "@c:example.org", 1767225605000, `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`),
		)
		if msgByID(e.page(t, day, http.StatusOK), "$poll").Find(".votes").Length() != 0 {
			t.Error("an end from someone other than the creator ended the poll")
		}
		e.addEvents(t,
			pollLine("$end", "org.matrix.msc3381.poll.end", "@a:example.org", 1767225606000, `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`),
			pollLine("$late", "org.matrix.msc3381.poll.response", "@d:example.org", 1767225607000, ref("t")),
		)
		poll = msgByID(e.page(t, day, http.StatusOK), "$poll")
		votes := poll.Find(".votes").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
		if strings.Join(votes, "|") != "0 votes (0%)|2 votes (100%)" {
			t.Errorf("votes %q", votes)
		}
		if w := poll.Find("li.winner .answer-text").Text(); w != "Spaces <b>!</b>" {
			t.Errorf("winner %q", w)
		}
		if !strings.Contains(poll.Find(".poll-status").Text(), "Ended") {
			t.Errorf("status %q", poll.Find(".poll-status").Text())
		}
		var api struct {
			Poll struct {
				Question string `json:"question"`
				Ended    bool   `json:"ended"`
				Voters   int    `json:"voters"`
				Answers  []struct {
					Text   string `json:"text"`
					Votes  int    `json:"votes"`
					Winner bool   `json:"winner"`
				} `json:"answers"`
			} `json:"poll"`
		}
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if p := api.Poll; p.Question != "Tabs or spaces?" || !p.Ended || p.Voters != 2 || len(p.Answers) != 2 || p.Answers[1].Votes != 2 || !p.Answers[1].Winner {
			t.Errorf("API poll %+v", p)
		}
		// A vote's permalink leads to the poll.
		if loc := e.redirect(t, "/room/!x:example.org/event/$v2", http.StatusFound); loc != "/room/!x:example.org/event/$poll" {
			t.Errorf("vote permalink = %q", loc)
		}
		// Its permalink shows it too.
		if msgByID(e.page(t, "/room/!x:example.org/event/$poll", http.StatusOK), "$poll").Find(".question").Length() != 1 {
			t.Error("poll permalink does not show the poll")
		}
	})
}

// TestPollEndedByModerator: a poll ends at an end event from someone whose
// power may redact others' messages (by the room's power levels), not only
// from its creator; a random member's end is still ignored.
func TestPollEndedByModerator(t *testing.T) {
	const start = `{"m.poll.start":{"question":{"m.text":"Ship it?"},"kind":"m.poll.undisclosed","max_selections":1,"answers":[{"id":"y","m.text":"Yes"},{"id":"n","m.text":"No"}]}}`
	ref := func(typ, sel string) string {
		if typ == "end" {
			return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.text":[{"body":"ended"}]}`
		}
		return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.selections":["` + sel + `"]}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			`{"event_id":"$pl","room_id":"!x:example.org","type":"m.room.power_levels","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":{"users":{"@a:example.org":100,"@mod:example.org":50}}}`,
			pollLine("$poll", "m.poll.start", "@b:example.org", 1767225601000, start),
			pollLine("$v1", "m.poll.response", "@c:example.org", 1767225602000, ref("", "y")),
			pollLine("$fake", "m.poll.end", "@c:example.org", 1767225603000, ref("end", "")),
			pollLine("$v2", "m.poll.response", "@d:example.org", 1767225604000, ref("", "n")),
		))
		const day = "/room/!x:example.org/2026-01-01"
		if poll := msgByID(e.page(t, day, http.StatusOK), "$poll"); poll.Find(".votes").Length() != 0 || strings.Contains(poll.Find(".poll-status").Text(), "Ended") {
			t.Fatal("a random member's end ended the poll")
		}
		e.addEvents(t,
			pollLine("$end", "m.poll.end", "@mod:example.org", 1767225605000, ref("end", "")),
			pollLine("$late", "m.poll.response", "@e:example.org", 1767225606000, ref("", "n")),
		)
		poll := msgByID(e.page(t, day, http.StatusOK), "$poll")
		if !strings.Contains(poll.Find(".poll-status").Text(), "Ended") {
			t.Fatalf("a moderator's end did not end the poll: status %q", poll.Find(".poll-status").Text())
		}
		votes := poll.Find(".votes").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
		if strings.Join(votes, "|") != "1 vote (50%)|1 vote (50%)" {
			t.Errorf("votes %q, want the two votes sent before the moderator's end", votes)
		}
		var api struct {
			Poll struct {
				Ended  bool `json:"ended"`
				Voters int  `json:"voters"`
			} `json:"poll"`
		}
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if !api.Poll.Ended || api.Poll.Voters != 2 {
			t.Errorf("API poll %+v: want ended with 2 voters (the vote after the moderator's end does not count)", api.Poll)
		}
		// Messages "referring" to the poll are no responses: as many as
		// the archive keeps of a poll's responses left it open with none.
		var flood []string
		for i := range store.MaxRelated {
			flood = append(flood, pollLine(fmt.Sprintf("$ref%d", i), "m.room.message", "@e:example.org", 1767225607000+int64(i),
				`{"msgtype":"m.text","body":"spam","m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`))
		}
		e.addEvents(t, flood...)
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if !api.Poll.Ended || api.Poll.Voters != 2 {
			t.Errorf("API poll %+v after %d messages referring to it: want ended with 2 voters", api.Poll, store.MaxRelated)
		}
	})
}

// shipItPoll is a disclosed poll's start, "Ship it?" (Yes y / No n), of
// $poll; shipItEnd its end and shipItVote a response to it choosing sel,
// padded with pad.
const (
	shipItPoll = `{"m.poll.start":{"question":{"m.text":"Ship it?"},"kind":"m.poll.disclosed","max_selections":1,"answers":[{"id":"y","m.text":"Yes"},{"id":"n","m.text":"No"}]}}`
	shipItEnd  = `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.text":[{"body":"ended"}]}`
)

func shipItVote(sel, pad string) string {
	if pad == "" {
		return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.selections":["` + sel + `"]}`
	}
	return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.selections":["` + sel + `"],"pad":"` + pad + `"}`
}

// apiPoll is what the poll tests read of an event's JSON.
type apiPoll struct {
	Poll struct {
		Ended     bool `json:"ended"`
		Voters    int  `json:"voters"`
		Truncated bool `json:"responses_truncated"`
		Answers   []struct {
			Votes int `json:"votes"`
		} `json:"answers"`
	} `json:"poll"`
}

// TestPollVotesSurviveAFlood: one member's flood of responses and ends
// leaves the other voters' votes counted. The latest 500 references the
// archive read of a poll were all his, and the poll showed one voter. Past
// store.MaxPollVoters voters the page says which were counted.
func TestPollVotesSurviveAFlood(t *testing.T) {
	start, end := shipItPoll, shipItEnd
	vote := func(sel string) string { return shipItVote(sel, "") }
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			pollLine("$poll", "m.poll.start", "@b:example.org", 1767225601000, start),
			pollLine("$v1", "m.poll.response", "@c:example.org", 1767225602000, vote("y")),
			pollLine("$v2", "m.poll.response", "@d:example.org", 1767225603000, vote("y")),
			pollLine("$v3", "m.poll.response", "@f:example.org", 1767225604000, vote("n")),
			// @d changes his mind: his latest vote counts.
			pollLine("$v4", "m.poll.response", "@d:example.org", 1767225605000, vote("n")),
		))
		var flood []string
		for i := range store.MaxRelated + 50 {
			flood = append(flood,
				pollLine(fmt.Sprintf("$s%d", i), "m.poll.response", "@e:example.org", 1767225606000+int64(i), vote("y")),
				pollLine(fmt.Sprintf("$x%d", i), "m.poll.end", "@e:example.org", 1767225606000+int64(i), end))
		}
		e.addAtOnce(t, flood...)
		var api apiPoll
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if p := api.Poll; p.Ended || p.Voters != 4 || p.Truncated || len(p.Answers) != 2 || p.Answers[0].Votes != 2 || p.Answers[1].Votes != 2 {
			t.Errorf("API poll %+v after one member's %d responses and ends: want open, 4 voters, 2 votes each, not truncated", p, 2*(store.MaxRelated+50))
		}
		poll := msgByID(e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK), "$poll")
		if votes := poll.Find(".votes").Map(func(_ int, s *goquery.Selection) string { return s.Text() }); strings.Join(votes, "|") != "2 votes (50%)|2 votes (50%)" {
			t.Errorf("page votes %q", votes)
		}
		if status := poll.Find(".poll-status").Text(); strings.Contains(status, "counted") || strings.Contains(status, "Ended") {
			t.Errorf("page status %q", status)
		}

		// More voters than are read: the page and the API say so.
		var many []string
		for i := range store.MaxPollVoters {
			many = append(many, pollLine(fmt.Sprintf("$m%d", i), "m.poll.response", fmt.Sprintf("@m%04d:example.org", i), 1767225700000+int64(i), vote("n")))
		}
		e.addAtOnce(t, many...)
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if !api.Poll.Truncated || api.Poll.Voters != store.MaxPollVoters {
			t.Errorf("API poll %+v with %d voters: want %d voters counted, truncated", api.Poll, store.MaxPollVoters+4, store.MaxPollVoters)
		}
		status := msgByID(e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK), "$poll").Find(".poll-status").Text()
		if want := "only the votes of the first " + strconv.Itoa(store.MaxPollVoters) + " voters by user ID were counted"; !strings.Contains(status, want) {
			t.Errorf("page status %q, want it to say %q", status, want)
		}
	})
}

// TestAboutPageAndArchiveControls: the about page gives the room's facts,
// its upgrade chain both ways, and what search engines are told; a room's
// m.room.archive_controls (stable or unstable) puts its valid robots
// directives on its pages, as a meta tag and the X-Robots-Tag header.
func TestAboutPageAndArchiveControls(t *testing.T) {
	state := func(evID, typ, room string, ts int64, content string) string {
		return `{"event_id":"` + evID + `","room_id":"` + room + `","type":"` + typ + `","sender":"@a:example.org","state_key":"","origin_server_ts":` + itoa(ts) + `,"content":` + content + `}`
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, readersRoom(t), writeRoomFile(t,
			state("$c2", "m.room.create", "!y:example.org", 1767225600000, `{"room_version":"10","predecessor":{"room_id":"!x:example.org","event_id":"$t"}}`),
			state("$hv2", "m.room.history_visibility", "!y:example.org", 1767225600001, `{"history_visibility":"world_readable"}`),
			state("$n2", "m.room.name", "!y:example.org", 1767225600002, `{"name":"Second room"}`),
		))
		e.addEvents(t, state("$t", "m.room.tombstone", "!x:example.org", 1767225700000, `{"body":"moved","replacement_room":"!y:example.org"}`))
		doc := e.page(t, "/room/!x:example.org/about", http.StatusOK)
		if id := doc.Find("code.room-id").Text(); id != "!x:example.org" {
			t.Errorf("room id %q", id)
		}
		if v := doc.Find(".room-version").Text(); v != "3" {
			t.Errorf("version %q", v)
		}
		if n := doc.Find(".count").Text(); n != "3" {
			t.Errorf("count %q", n)
		}
		if first, last := doc.Find("a.first").AttrOr("href", ""), doc.Find("a.last").AttrOr("href", ""); first != "/room/!x:example.org/2026-01-01" || last != "/room/!x:example.org/2026-01-05" {
			t.Errorf("first %q last %q", first, last)
		}
		if later := doc.Find("ol.later a").AttrOr("href", ""); later != "/room/!y:example.org/about" {
			t.Errorf("upgrade link %q", later)
		}
		if earlier := e.page(t, "/room/!y:example.org/about", http.StatusOK).Find("ol.earlier a").AttrOr("href", ""); earlier != "/room/!x:example.org/about" {
			t.Errorf("predecessor link %q", earlier)
		}
		if !strings.Contains(doc.Find(".indexing").Text(), "may index") || doc.Find(`meta[name="robots"]`).Length() != 0 {
			t.Error("an indexable room is not said to be")
		}

		e.addEvents(t, state("$ac", "org.matrix.msc4021.archive_controls", "!x:example.org", 1767225800000, `{"robots":["noindex","bogus\nX: y","noarchive"]}`))
		for _, path := range []string{"/room/!x:example.org/about", "/room/!x:example.org/2026-01-01", "/room/!x:example.org/event/$a", "/room/!x:example.org/2026-01-01.txt"} {
			rec := e.get(t, path)
			if got := rec.Header().Get("X-Robots-Tag"); got != "noindex, noarchive" {
				t.Errorf("%s: X-Robots-Tag %q", path, got)
			}
			if strings.HasSuffix(path, ".txt") {
				continue
			}
			d, _ := goquery.NewDocumentFromReader(rec.Body)
			metas := d.Find(`meta[name="robots"]`).Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("content", "") })
			if !contains(metas, "noindex, noarchive") {
				t.Errorf("%s: robots meta %q", path, metas)
			}
		}
		// The stable type wins over the unstable one.
		e.addEvents(t, state("$ac2", "m.room.archive_controls", "!x:example.org", 1767225900000, `{"archive":false}`))
		if got := e.get(t, "/room/!x:example.org/about").Header().Get("X-Robots-Tag"); got != "noindex" {
			t.Errorf("archive:false gives X-Robots-Tag %q", got)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestDirectoryFilterSortPagesSpaces: the directory filters by name,
// alias or topic, sorts by name, and lists a space's rooms when the
// archive holds the space's m.space.child state.
func TestDirectoryFilterSortPagesSpaces(t *testing.T) {
	room := func(rid, name, topic string, ts int64) []string {
		return []string{
			`{"event_id":"$c` + rid + `","room_id":"!` + rid + `:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"10"}}`,
			`{"event_id":"$h` + rid + `","room_id":"!` + rid + `:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}`,
			`{"event_id":"$n` + rid + `","room_id":"!` + rid + `:example.org","type":"m.room.name","sender":"@a:example.org","origin_server_ts":1767225600002,"state_key":"","content":{"name":"` + name + `"}}`,
			`{"event_id":"$t` + rid + `","room_id":"!` + rid + `:example.org","type":"m.room.topic","sender":"@a:example.org","origin_server_ts":1767225600003,"state_key":"","content":{"topic":"` + topic + `"}}`,
			`{"event_id":"$m` + rid + `","room_id":"!` + rid + `:example.org","type":"m.room.message","sender":"@a:example.org","origin_server_ts":` + itoa(ts) + `,"content":{"msgtype":"m.text","body":"hi"}}`,
		}
	}
	var lines []string
	lines = append(lines, room("b", "Bravo", "all about gardening", 1767225605000)...)
	lines = append(lines, room("a", "alpha", "cooking", 1767225604000)...)
	lines = append(lines, room("c", "Charlie", "Gardening too", 1767225603000)...)
	lines = append(lines, room("s", "Green space", "a space", 1767225602000)...)
	lines = append(lines,
		`{"event_id":"$sc1","room_id":"!s:example.org","type":"m.space.child","sender":"@a:example.org","origin_server_ts":1767225606000,"state_key":"!a:example.org","content":{"via":["example.org"]}}`,
		`{"event_id":"$sc2","room_id":"!s:example.org","type":"m.space.child","sender":"@a:example.org","origin_server_ts":1767225606000,"state_key":"!c:example.org","content":{"via":["example.org"]}}`,
		`{"event_id":"$sc3","room_id":"!s:example.org","type":"m.space.child","sender":"@a:example.org","origin_server_ts":1767225607000,"state_key":"!c:example.org","content":{}}`,
	)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoomFile(t, lines...))
		names := func(path string) string {
			return strings.Join(e.page(t, path, http.StatusOK).Find("li.room .room-name").Map(func(_ int, s *goquery.Selection) string { return s.Text() }), ",")
		}
		if got := names("/"); got != "Bravo,alpha,Charlie,Green space" {
			t.Errorf("by activity: %s", got)
		}
		if got := names("/?sort=name"); got != "alpha,Bravo,Charlie,Green space" {
			t.Errorf("by name: %s", got)
		}
		if got := names("/?q=GARDEN"); got != "Bravo,Charlie" {
			t.Errorf("filter: %s", got)
		}
		// !c was removed from the space (its latest child event has no via).
		doc := e.page(t, "/", http.StatusOK)
		if sp := doc.Find("nav.spaces a.space").AttrOr("href", ""); sp != "/?space=%21s%3Aexample.org" {
			t.Errorf("space link %q", sp)
		}
		if got := names("/?space=!s:example.org"); got != "alpha" {
			t.Errorf("space's rooms: %s", got)
		}
		if got := e.page(t, "/?q=nothing-matches", http.StatusOK).Find("p.empty").Text(); got != "No archived room matches." {
			t.Errorf("empty filter: %q", got)
		}
		for _, bad := range []string{"/?sort=size", "/?page=0", "/?page=x"} {
			if rec := e.get(t, bad); rec.Code != http.StatusBadRequest {
				t.Errorf("%s = %d", bad, rec.Code)
			}
		}
		if rec := e.get(t, "/?space=!nope:example.org"); rec.Code != http.StatusNotFound {
			t.Errorf("unknown space = %d", rec.Code)
		}
	})
}

// TestDemoPoll: the demo room's poll shows its result, counting only the
// changed vote's latest choice.
func TestDemoPoll(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), "../testdata/demo/opendev-infra.ndjson")
	doc := e.page(t, "/room/opendev-infra:example.org/2026-03-11", http.StatusOK)
	poll := doc.Find("li.poll")
	if poll.Length() != 1 {
		t.Fatalf("%d polls on the demo day", poll.Length())
	}
	votes := poll.Find(".votes").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	if strings.Join(votes, "|") != "0 votes (0%)|3 votes (100%)|0 votes (0%)" || poll.Find("li.winner .answer-text").Text() != "Thursday 15:00 UTC" {
		t.Errorf("demo poll: votes %q, winner %q", votes, poll.Find("li.winner .answer-text").Text())
	}
}

// TestFormerlyPublicRoomIsNotIndexed: a room shown only because the
// operator keeps formerly public history gets noindex on its pages.
func TestFormerlyPublicRoomIsNotIndexed(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			e := newEnv(t, storetest.OpenWith(t, dialect, store.Options{ShowFormerlyPublic: true}), readersRoom(t))
			if got := e.get(t, "/room/!x:example.org/2026-01-01").Header().Get("X-Robots-Tag"); got != "" {
				t.Errorf("public room: X-Robots-Tag %q", got)
			}
			e.addEvents(t, `{"event_id":"$hv9","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767300000000,"state_key":"","content":{"history_visibility":"shared"}}`)
			rec := e.get(t, "/room/!x:example.org/2026-01-01")
			if rec.Code != http.StatusOK || rec.Header().Get("X-Robots-Tag") != "noindex" {
				t.Errorf("formerly public room: %d, X-Robots-Tag %q", rec.Code, rec.Header().Get("X-Robots-Tag"))
			}
		})
	}
}

// TestCalendarCountsAreBounded: a day is counted only up to
// store.MaxCount, and the calendar says "at least".
func TestCalendarCountsAreBounded(t *testing.T) {
	var lines []string
	for i := range store.MaxCount + 1 {
		lines = append(lines, msgLine("$b"+itoa(int64(i)), 1767225601000+int64(i), `{"msgtype":"m.text","body":"flood"}`))
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
	month := e.page(t, "/room/!x:example.org/calendar/2026-01", http.StatusOK)
	if n := cell(month, "2026-01-01").Find(".count").Text(); n != itoa(int64(store.MaxCount))+"+" {
		t.Errorf("capped day count %q", n)
	}
	if total := month.Find("p.calendar-total").Text(); !strings.HasPrefix(total, "At least "+itoa(int64(store.MaxCount))+" messages") {
		t.Errorf("total %q", total)
	}
}
