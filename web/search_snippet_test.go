package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// A search result's snippet of a long message is taken around the first
// match and marks it. One Turkish capital İ (or a Kelvin sign, or any rune
// whose lower case has another byte length) anywhere in the message made
// render.Highlight give up on both: the snippet was the message's first
// 300 characters, here lorem ipsum without the word searched for, while
// the same message with "I" showed <mark>kumquat</mark>. A word with the
// İ, when it is what was found, is marked too. (A message of fewer
// characters with an İ made it slice past the end of the lower-cased
// text: a panic.)
func TestSearchSnippetOfATurkishMessage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		filler := strings.Repeat("lorem ipsum dolor sit amet ", 30)
		e := newEnv(t, st, writeRoom(t,
			msgLine("$ascii", 1767225700000, `{"msgtype":"m.text","body":"Istanbul meetup: `+filler+` kumquat"}`),
			msgLine("$turk", 1767225800000, `{"msgtype":"m.text","body":"İstanbul meetup: `+filler+` kumquat"}`),
			msgLine("$short", 1767225900000, `{"msgtype":"m.text","body":"İzmir kumquat"}`)))
		e.withSearch(t)
		type results struct {
			Results []struct {
				EventID   string `json:"event_id"`
				Highlight string `json:"highlight_html"`
			} `json:"results"`
		}
		// Whichever of the messages a query finds, its snippet marks
		// the word as the message spells it. (Which it finds for the
		// Istanbuls is the index's business: Bleve's lower-casing filter
		// turns "İstanbul" into "i\xb0stanbu", in the message and in the
		// query alike, so "İstanbul" finds the message with the İ and
		// "istanbul" the other.)
		for _, tc := range []struct {
			q    string
			want map[string]string // by event ID
			find []string          // events the query must find
		}{
			{"kumquat", map[string]string{"$ascii": "<mark>kumquat</mark>", "$turk": "<mark>kumquat</mark>", "$short": "İzmir <mark>kumquat</mark>"}, []string{"$ascii", "$turk", "$short"}},
			{"İstanbul", map[string]string{"$ascii": "<mark>Istanbul</mark>", "$turk": "<mark>İstanbul</mark>"}, []string{"$turk"}},
			{"istanbul", map[string]string{"$ascii": "<mark>Istanbul</mark>", "$turk": "<mark>İstanbul</mark>"}, []string{"$ascii"}},
		} {
			var got results
			decode(t, e.get(t, "/api/v1/search?q="+url.QueryEscape(tc.q)), http.StatusOK, &got)
			found := map[string]bool{}
			for _, r := range got.Results {
				found[r.EventID] = true
				if !strings.Contains(r.Highlight, tc.want[r.EventID]) {
					t.Errorf("%s: %s: snippet %q; want it to show and mark %s, as for the same message without the İ", tc.q, r.EventID, r.Highlight, tc.want[r.EventID])
				}
			}
			for _, id := range tc.find {
				if !found[id] {
					t.Errorf("%s: results %+v; want %s among them", tc.q, got.Results, id)
				}
			}
		}
		// The search page shows the same snippet.
		if marks := e.page(t, "/search?q=kumquat", http.StatusOK).Find("li.result mark").Length(); marks != 3 {
			t.Errorf("the search page marks kumquat %d times in 3 results; want 3", marks)
		}
	})
}
