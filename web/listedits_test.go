package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// editedList is six messages $m0…$m5 of 2026-01-01, $m1 to $m5 each
// edited three times into 20,000 bytes, and the next day six replies
// $r0…$r5, one to each.
func editedList(t *testing.T) string {
	var lines []string
	for i := range 6 {
		lines = append(lines, msgLine(fmt.Sprintf("$m%d", i), 1767225601000+int64(i)*1000, fmt.Sprintf(`{"msgtype":"m.text","body":"message %d"}`, i)))
	}
	pad := strings.Repeat("x", 20000)
	ts := int64(1767225700000)
	for k := range 3 {
		for i := 1; i < 6; i++ {
			ts++
			lines = append(lines, msgLine(fmt.Sprintf("$e%d_%d", i, k), ts,
				fmt.Sprintf(`{"msgtype":"m.text","body":"* edit","m.new_content":{"msgtype":"m.text","body":"m%d edit %d %s"},"m.relates_to":{"rel_type":"m.replace","event_id":"$m%d"}}`, i, k, pad, i)))
		}
	}
	for i := range 6 {
		lines = append(lines, msgLine(fmt.Sprintf("$r%d", i), 1767312001000+int64(i)*1000,
			fmt.Sprintf(`{"msgtype":"m.text","body":"reply %d","m.relates_to":{"m.in_reply_to":{"event_id":"$m%d"}}}`, i, i)))
	}
	return writeRoom(t, lines...)
}

var feedEntryLink = regexp.MustCompile(`<link rel="alternate" type="text/html" href="[^"]*/event/([^"]+)"`)

// TestListsReadEditsWithinBound: a feed, a day's reply quotes and search
// results show each message's latest edit, reading its edits within
// DayPageBytes for the whole list (store.LatestEdits): past it a message
// says it was edited and links to itself, and never shows an earlier
// version; the JSON search API flags such a hit (latest_edit_unread).
// With the default bound every message shows its latest edit.
func TestListsReadEditsWithinBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		file := editedList(t)
		var ix *indexer.Indexer
		for _, c := range []struct {
			name  string
			bytes int
		}{{"default", 0}, {"64 KB", 64 << 10}} {
			e := newEnvRender(t, st, render.New(render.Options{}), web.Options{BaseURL: "https://archive.example", DayPageBytes: c.bytes}, file)
			if ix == nil {
				var err error
				if ix, err = indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{}, storetest.Logger(t)); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { ix.Close() })
				if _, err := ix.CatchUp(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
			}
			searching, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{BaseURL: "https://archive.example", DayPageBytes: c.bytes, Search: ix})
			if err != nil {
				t.Fatal(err)
			}
			shown := map[string]string{} // by message: "latest", "placeholder", or what else
			check := func(where, msg, text string) {
				n := msg[2:]
				switch {
				case msg == "$m0" && strings.Contains(text, "message 0"):
					shown[where+msg] = "latest"
				case strings.Contains(text, "m"+n+" edit 2 xxx"):
					shown[where+msg] = "latest"
				case strings.Contains(text, "was edited: open it"):
					shown[where+msg] = "placeholder"
				default:
					t.Errorf("%s, %s: %s shows %.100q", c.name, where, msg, text)
				}
			}
			rec := e.get(t, "/room/!x:example.org/feed.atom")
			if rec.Code != 200 {
				t.Fatalf("feed: %d %.300s", rec.Code, rec.Body.String())
			}
			for _, entry := range strings.Split(rec.Body.String(), "<entry>")[1:] {
				m := feedEntryLink.FindStringSubmatch(entry)
				if m == nil {
					t.Fatalf("a feed entry without its link: %.300s", entry)
				}
				ev, _ := url.PathUnescape(m[1])
				if strings.HasPrefix(ev, "$m") {
					check("feed", ev, entry)
				}
			}
			doc := e.page(t, "/room/!x:example.org/2026-01-02", 200)
			for i := range 6 {
				quote := msgByID(doc, fmt.Sprintf("$r%d", i)).Find(".reply-to").Text()
				check("quote", fmt.Sprintf("$m%d", i), quote)
			}
			// The search finds the five edited messages by their latest
			// text; a hit whose edits were not read says so in its text
			// and in its flag, and only such a hit.
			var found struct {
				Results []struct {
					EventID    string `json:"event_id"`
					Text       string `json:"text"`
					EditUnread bool   `json:"latest_edit_unread"`
				} `json:"results"`
			}
			decode(t, (&env{st: st, srv: searching}).get(t, "/api/v1/search?q=edit&sort=oldest"), http.StatusOK, &found)
			if len(found.Results) != 5 {
				t.Errorf("%s: search for edit: %d results, want 5", c.name, len(found.Results))
			}
			flagged := 0
			for _, h := range found.Results {
				check("search", h.EventID, h.Text)
				if placeholder := shown["search"+h.EventID] == "placeholder"; h.EditUnread != placeholder {
					t.Errorf("%s: search hit %s: latest_edit_unread %v, text %.60q", c.name, h.EventID, h.EditUnread, h.Text)
				}
				if h.EditUnread {
					flagged++
				}
			}
			if c.bytes == 0 && flagged > 0 || c.bytes > 0 && (flagged == 0 || flagged == len(found.Results)) {
				t.Errorf("%s: %d of %d search hits flagged", c.name, flagged, len(found.Results))
			}
			placeholders := 0
			for where, s := range shown {
				if s == "placeholder" {
					placeholders++
					if strings.HasSuffix(where, "$m0") {
						t.Errorf("%s: %s, never edited, is said to be", c.name, where)
					}
				}
			}
			if len(shown) != 17 {
				t.Errorf("%s: %d of 17 messages shown: %v", c.name, len(shown), shown)
			}
			if c.bytes == 0 && placeholders > 0 || c.bytes > 0 && (placeholders == 0 || placeholders == 15) {
				t.Errorf("%s: %d messages without their text: %v", c.name, placeholders, shown)
			}
		}
	})
}
