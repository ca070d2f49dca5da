package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/internal/storetest"
)

// A message replied to is quoted once a page, however many of the page's
// replies quote it: each quote rendered the message again, so one message
// of 60 KB of HTML and 400 one-letter replies to it cost 3.1 s a page
// (helper-95), work that grew with replies times the message's size.
func TestMessageRepliedToIsQuotedOnceAPage(t *testing.T) {
	html := strings.Repeat(`<b><i><a href="https://e.org/x">w</a></i></b> `, 1000)
	lines := []string{msgLine("$big", 1767225601000, fmt.Sprintf(`{"msgtype":"m.text","body":" ","format":"org.matrix.custom.html","formatted_body":%q}`, html))}
	const replies = 400
	for i := range replies {
		lines = append(lines, msgLine(fmt.Sprintf("$r%d", i), 1767225602000+int64(i),
			`{"msgtype":"m.text","body":"k","m.relates_to":{"m.in_reply_to":{"event_id":"$big"}}}`))
	}
	e := newEnv(t, storetest.Open(t, "sqlite"), writeRoom(t, lines...))
	before := e.srv.TextsRendered()
	doc := e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK)
	rendered := e.srv.TextsRendered() - before
	quotes := doc.Find(".reply-excerpt").Length()
	if quotes != replies {
		t.Fatalf("the page shows %d quotes; want %d", quotes, replies)
	}
	excerpt := strings.TrimSpace(doc.Find(".reply-excerpt").First().Text())
	same := 0
	doc.Find(".reply-excerpt").Each(func(_ int, r *goquery.Selection) {
		if strings.TrimSpace(r.Text()) == excerpt {
			same++
		}
	})
	if same != replies || !strings.Contains(excerpt, "w w w") {
		t.Errorf("%d of %d quotes read %q; want every one to quote the message", same, replies, excerpt)
	}
	if rendered > 10 {
		t.Errorf("the page rendered %d texts for %d quotes of one message; want it quoted once", rendered, replies)
	}
}
