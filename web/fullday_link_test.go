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
