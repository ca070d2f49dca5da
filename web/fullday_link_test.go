package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// A permalink's "Show the whole day" is the day's page, at the message,
// when that page holds it, however many messages came before it: a link of
// its own (?after= ten messages back) showed a day of 24 messages from its
// eleventh, under "Earlier on this day", and gave crawlers a page a
// message. On a day of several pages it is a page that holds the message.
func TestFullDayLinkIsTheDaysPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var lines []string
		for i := range 24 {
			lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), 1767225601000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
		}
		// A busier day after it: 60 messages, pages of 40.
		for i := range 60 {
			lines = append(lines, msgLine(fmt.Sprintf("$b%d", i), 1767312001000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"busy %d"}`, i)))
		}
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 40}, writeRoom(t, lines...))
		for ev, want := range map[string]string{
			"$m0":  "/room/!x:example.org/2026-01-01#$m0",
			"$m23": "/room/!x:example.org/2026-01-01#$m23",
			"$b11": "/room/!x:example.org/2026-01-02#$b11",
			"$b39": "/room/!x:example.org/2026-01-02#$b39", // the first page's last
			"$b40": "/room/!x:example.org/2026-01-02?after=%24b29#$b40",
			"$b59": "/room/!x:example.org/2026-01-02?after=%24b48#$b59",
		} {
			perma := e.page(t, "/room/!x:example.org/event/"+url.PathEscape(ev), http.StatusOK)
			if full, _ := perma.Find("a.full-day").Attr("href"); full != want {
				t.Errorf("%s: whole day %q, want %q", ev, full, want)
			}
			checkFullDayLink(t, e, ev)
		}
	})
}

// TestFragmentsAreEscaped: the links the archive writes to a message on
// another page (a permalink's whole-day link, a thread reply's line in
// the main timeline, to its place on the thread's page) give its ID in the
// #fragment path-escaped, as archive.js and a browser decode it: written
// raw, html/template kept a valid escape in an ID of room version 1 or 2
// ("$p%252", read back as "$p%2"), and the reader was sent to a 404.
func TestFragmentsAreEscaped(t *testing.T) {
	const id = "$p%252/x:example.org"
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t,
		msgLine("$root", 1767225601000, `{"msgtype":"m.text","body":"root"}`),
		msgLine(id, 1767225602000, `{"msgtype":"m.text","body":"reply","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`),
		msgLine("$q%25", 1767225603000, `{"msgtype":"m.text","body":"a message"}`),
	))
	perma := e.page(t, "/room/!x:example.org/event/"+url.PathEscape("$q%25"), http.StatusOK)
	if full := perma.Find("a.full-day").AttrOr("href", ""); full != "/room/!x:example.org/2026-01-01#$q%2525" {
		t.Errorf("the whole-day link is %q, want the ID path-escaped in its fragment", full)
	}
	day := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	if link := msgByID(day, id).Find("a.thread-reply").AttrOr("href", ""); link != "/room/!x:example.org/thread/$root#$p%25252%2Fx:example.org" {
		t.Errorf("the thread reply links %q, want its ID path-escaped in the fragment", link)
	}
}
