package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// A day's first page is cut by its events' relations' bytes too
// (loadDay, shownDay): a member's large edits of an early message end it
// early. The whole-day link of a later message must still lead to a page
// that holds it; it named the first page, and the script sent the reader
// back to the permalink.
func TestFullDayLinkWeighsRelations(t *testing.T) {
	big := strings.Repeat("x", 30000)
	var lines []string
	lines = append(lines, msgLine("$m0", 1767225601000, `{"msgtype":"m.text","body":"message 0"}`))
	// An edit of $m0 heavier than the page's byte bound: not listed itself,
	// but its bytes end the first page after $m0.
	lines = append(lines, msgLine("$ed", 1767225601500, fmt.Sprintf(`{"msgtype":"m.text","body":"* e","m.new_content":{"msgtype":"m.text","body":"%s"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m0"}}`, big)))
	// A second edit after it: a row follows the bound, so the read is cut.
	lines = append(lines, msgLine("$ed2", 1767225601600, fmt.Sprintf(`{"msgtype":"m.text","body":"* e","m.new_content":{"msgtype":"m.text","body":"%s"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m0"}}`, big)))
	for i := 1; i < 24; i++ {
		lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), 1767225601000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvRender(t, st, render.New(render.Options{}), web.Options{DayPageSize: 40, DayPageBytes: 20000}, writeRoom(t, lines...))
		first := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
		for _, ev := range []string{"$m15", "$m3"} {
			perma := e.page(t, "/room/!x:example.org/event/"+url.PathEscape(ev), http.StatusOK)
			full, _ := perma.Find("a.full-day").Attr("href")
			target := strings.SplitN(full, "#", 2)[0]
			doc := first
			if target != "/room/!x:example.org/2026-01-01" {
				doc = e.page(t, target, http.StatusOK)
			}
			if msgByID(doc, ev).Length() != 1 {
				t.Errorf("%s: whole-day link %q leads to a page without it (first page holds $m1: %v)", ev, full, msgByID(first, "$m1").Length() == 1)
			}
		}
	})
}
