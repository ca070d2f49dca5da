package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A message read back stamped in year 10000 or later (253402300800000 is
// 10000-01-01) is shown on the day it was read: the links to its day (the
// permalink's whole day, the day before's next day) and its room's own
// address and calendar named dates every day route refuses with 400, and
// it could be read nowhere but its permalink (helper-94).
func TestMessageStampedPastYear9999IsOnADayThatAnswers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for name, lines := range map[string][]string{
			"with another message": {msgLine("$ok", 1767225601000, `{"msgtype":"m.text","body":"normal"}`), msgLine("$odd", 253402300800000, `{"msgtype":"m.text","body":"odd time"}`)},
			"alone":                {msgLine("$odd", 9007199254740991, `{"msgtype":"m.text","body":"odd time"}`)},
		} {
			t.Run(name, func(t *testing.T) {
				st := storetest.Open(t, st.Dialect())
				e := newEnv(t, st, writeRoom(t, lines...))
				answers := func(from, link string) {
					t.Helper()
					link, _, _ = strings.Cut(link, "#")
					if rec := e.get(t, link); rec.Code >= 400 {
						t.Errorf("%s leads to %s, which answers %d", from, link, rec.Code)
					}
				}
				perma := "/room/!x:example.org/event/" + url.PathEscape("$odd")
				doc := e.page(t, perma, http.StatusOK)
				href, ok := doc.Find("a.fullday, a:contains('whole day')").First().Attr("href")
				if !ok {
					t.Fatal("the permalink has no link to its whole day")
				}
				href, _, _ = strings.Cut(href, "#")
				answers(perma, href)
				if d := e.page(t, href, http.StatusOK); !strings.Contains(d.Text(), "odd time") {
					t.Errorf("the message's day %s does not show it", href)
				}
				for _, p := range []string{"/room/!x:example.org", "/room/!x:example.org/calendar"} {
					if loc := e.redirect(t, p, http.StatusFound); loc != "" {
						answers(p, loc)
					}
				}
			})
		}
	})
}
