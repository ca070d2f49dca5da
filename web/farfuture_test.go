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

// State keeps its time (current state passes over what was stamped
// ahead), however far ahead: a member event stamped in year 10000 has a
// permalink that answers, with no link to a day no page can show; its
// permalink answered 500, its view's day not encodable (helper-95).
func TestStateStampedPastYear9999HasAPermalink(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			zLine("$zj", "m.room.member", 10, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax"}`),
			msgLine("$ok", 1767225601000, `{"msgtype":"m.text","body":"normal"}`),
			zLine("$zn", "m.room.member", 253402300800000+5000-1767225600000, zUser, sk(zUser), `{"membership":"join","displayname":"Zorblax2"}`),
		))
		loc := e.redirect(t, "/event/"+url.PathEscape("$zn"), http.StatusFound)
		doc := e.page(t, loc, http.StatusOK)
		if n := doc.Find("a.full-day").Length(); n != 0 {
			t.Errorf("the permalink links its day %d times; want none, no page shows a day after 9999", n)
		}
		for _, p := range []string{"/room/!x:example.org/2026-01-01", "/room/!x:example.org", "/api/v1/events/" + url.PathEscape("$zn")} {
			if r := e.get(t, p); r.Code >= 400 && r.Code != http.StatusFound {
				t.Errorf("GET %s = %d", p, r.Code)
			}
		}
	})
}
