package web_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// withSearch gives the env a search index, caught up with its store.
func (e *env) withSearch(t *testing.T) *indexer.Indexer {
	t.Helper()
	ix, err := indexer.Open(e.st, filepath.Join(t.TempDir(), "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.CatchUp(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	e.srv, err = web.New(e.st, render.New(render.Options{}), storetest.Logger(t), web.Options{Search: ix, BaseURL: "https://archive.example"})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestSearchPage(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile, "../testdata/demo/opendev-infra.ndjson")
	e.withSearch(t)
	doc := e.page(t, "/search?q=podman", http.StatusOK)
	results := doc.Find("li.result")
	if results.Length() == 0 {
		t.Fatal("no results for podman")
	}
	results.Each(func(_ int, r *goquery.Selection) {
		if !strings.EqualFold(r.Find(".snippet mark").First().Text(), "podman") {
			t.Errorf("result without a highlighted match: %q", r.Find(".snippet").Text())
		}
		if href, _ := r.Find("a.time").Attr("href"); !strings.HasPrefix(href, "/room/"+demoSlug+"/event/$") {
			t.Errorf("permalink %q", href)
		}
	})
	// A count the index alone would give is never shown: with more pages
	// to come it is the verified results so far, labelled a lower bound.
	if count := e.page(t, "/search?q=podman&size=1", http.StatusOK).Find(".count").Text(); count != "At least 2 matches." {
		t.Errorf("count with more pages = %q", count)
	}
	// Scoped to a room by the room page's box; the other room has no podman.
	if n := e.page(t, "/search?q=podman&in=%23opendev-infra:example.org", http.StatusOK).Find("li.result").Length(); n != 0 {
		t.Errorf("room-scoped search found %d results in the wrong room", n)
	}
	if e.page(t, "/room/"+demoSlug+"/2026-03-03", http.StatusOK).Find("form.room-search input[name=in]").AttrOr("value", "") != "#ansible-community:example.org" {
		t.Error("the day page has no search box scoped to its room")
	}
	// Bad syntax: a 400 that explains the syntax, on the search page itself.
	doc = e.page(t, "/search?q=foo:bar", http.StatusBadRequest)
	if msg := doc.Find(".error.message").Text(); !strings.Contains(msg, "from:@user:server") {
		t.Errorf("syntax error message = %q", msg)
	}
	e.page(t, "/search?q=podman&in=%23nowhere:example.org", http.StatusBadRequest)
	e.page(t, "/search", http.StatusOK) // the empty form
	// A room chosen with no words lists its messages, as the JSON API
	// does for the same parameters, newest first when asked.
	var api struct {
		Results []struct {
			EventID string `json:"event_id"`
		} `json:"results"`
	}
	const byRoom = "?in=%23ansible-community:example.org&sort=newest"
	decode(t, e.get(t, "/api/v1/search"+byRoom), http.StatusOK, &api)
	var page []string
	e.page(t, "/search"+byRoom, http.StatusOK).Find("li.result a.time").Each(func(_ int, s *goquery.Selection) {
		page = append(page, s.AttrOr("href", ""))
	})
	if len(api.Results) == 0 || len(page) != len(api.Results) || !strings.HasSuffix(page[0], "/event/"+api.Results[0].EventID) {
		t.Errorf("by room alone: the page lists %d (%.3q), the API %d", len(page), page, len(api.Results))
	}
}

func TestSearchAPI(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	e.withSearch(t)
	var out struct {
		Results []struct {
			EventID   string `json:"event_id"`
			Text      string `json:"text"`
			Highlight string `json:"highlight_html"`
			Permalink string `json:"permalink"`
		} `json:"results"`
		Next string `json:"next_cursor"`
	}
	decode(t, e.get(t, "/api/v1/search?q=podman&sort=newest&size=1"), http.StatusOK, &out)
	if len(out.Results) != 1 || out.Next == "" || !strings.Contains(out.Results[0].Highlight, "<mark>") ||
		!strings.HasPrefix(out.Results[0].Permalink, "https://archive.example/room/") {
		t.Fatalf("page 1 = %+v", out)
	}
	first := out.Results[0].EventID
	decode(t, e.get(t, "/api/v1/search?q=podman&sort=newest&size=1&cursor="+out.Next), http.StatusOK, &out)
	if len(out.Results) != 1 || out.Results[0].EventID == first {
		t.Errorf("page 2 = %+v", out)
	}
	var apiErr struct {
		ErrCode string `json:"errcode"`
		Error   string `json:"error"`
	}
	for _, q := range []string{"q=%22unterminated", "q=x&size=1000", "q=x&sort=random", "q=x&cursor=garbage", "q=" + strings.Repeat("a", 600)} {
		decode(t, e.get(t, "/api/v1/search?"+q), http.StatusBadRequest, &apiErr)
		if apiErr.ErrCode != "M_BAD_REQUEST" || apiErr.Error == "" {
			t.Errorf("%s: %+v", q, apiErr)
		}
	}
}

func TestSearchDisabled(t *testing.T) {
	e := newEnv(t, storetest.Open(t, "sqlite"), demoFile)
	doc := e.page(t, "/search?q=podman", http.StatusServiceUnavailable)
	if !strings.Contains(doc.Find(".error.message").Text(), "not enabled") {
		t.Errorf("message = %q", doc.Find(".error.message").Text())
	}
}

// The count a search shows never reveals expired history: an expired
// message's word gives no results and a count of none, on the page and in
// the API, before any purge.
func TestSearchCountHidesExpiredHistory(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true}})
			const lifetime = 1500
			now := time.Now().UnixMilli()
			e := newEnv(t, st, writeRoom(t,
				retentionLine(now-100, lifetime),
				msgLine("$old", now-50, `{"msgtype":"m.text","body":"wombat xylophone"}`),
			))
			ix := e.withSearch(t)
			if n := e.page(t, "/search?q=xylophone", http.StatusOK).Find("li.result").Length(); n != 1 {
				t.Fatalf("while fresh: %d results", n)
			}
			time.Sleep(time.Until(time.UnixMilli(now - 50 + lifetime + 200)))
			e.addEvents(t, msgLine("$new", time.Now().UnixMilli(), `{"msgtype":"m.text","body":"wombat fresh"}`))
			if _, err := ix.CatchUp(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			for q, want := range map[string]int{"xylophone": 0, "wombat": 1} {
				var out struct {
					Results []struct{} `json:"results"`
					Total   int        `json:"total_estimate"`
				}
				decode(t, e.get(t, "/api/v1/search?q="+q), http.StatusOK, &out)
				if len(out.Results) != want || out.Total != want {
					t.Errorf("API %q: %d results, total %d; want %d", q, len(out.Results), out.Total, want)
				}
				count := e.page(t, "/search?q="+q, http.StatusOK).Find(".count").Text()
				if want == 0 && count != "" || want == 1 && count != "1 match." {
					t.Errorf("page %q says %q", q, count)
				}
			}
		})
	}
}

// TestSearchFindsPolls: a poll is found by the words of its question and
// answers, shown as a poll in the results, the API and the search feed,
// and leaves them when it is redacted or its sender opts out. What a page
// does not show as a poll is not found: a start whose content is not a
// poll, an edit of one (a page shows the poll as it was started), a state
// event of a poll's type.
func TestSearchFindsPolls(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		poll := func(evID, typ, sender string, ts int64, content string) string {
			return fmt.Sprintf(`{"event_id":%q,"room_id":"!x:example.org","type":%q,"sender":%q,"origin_server_ts":%d,"content":%s}`, evID, typ, sender, ts, content)
		}
		const lunch = `{"m.poll.start":{"question":{"m.text":"Where for lunch?"},"answers":[{"id":"p","m.text":"Pizzeria <b>Uno</b>"},{"id":"n","m.text":"Noodle bar"}]},"m.text":"Where for lunch?"}`
		e := newEnv(t, st, writeRoom(t,
			msgLine("$m1", 1767225601000, `{"msgtype":"m.text","body":"lunch plans tomorrow"}`),
			poll("$p1", "m.poll.start", "@a:example.org", 1767225602000, lunch),
			poll("$p2", "org.matrix.msc3381.poll.start", "@b:example.org", 1767225603000,
				`{"org.matrix.msc3381.poll.start":{"question":{"body":"Which mirror to retire?"},"answers":[{"id":"1","org.matrix.msc1767.text":"mirror01 wombat"},{"id":"2","org.matrix.msc1767.text":"keep both"}]}}`),
			// Not a poll (no answers): its page says it cannot be shown.
			poll("$p3", "m.poll.start", "@a:example.org", 1767225604000, `{"m.poll.start":{"question":{"m.text":"zanzibar?"}},"body":"zanzibar"}`),
			// An edit of $p1: its page shows $p1 as it was started.
			poll("$p1e", "m.poll.start", "@a:example.org", 1767225605000,
				`{"m.new_content":{"m.poll.start":{"question":{"m.text":"Where for quokka?"},"answers":[{"id":"p","m.text":"Pizzeria"}]}},"m.relates_to":{"rel_type":"m.replace","event_id":"$p1"}}`),
			`{"event_id":"$ps","room_id":"!x:example.org","type":"m.poll.start","state_key":"","sender":"@a:example.org","origin_server_ts":1767225606000,"content":{"m.poll.start":{"question":{"m.text":"Platypus?"},"answers":[{"id":"y","m.text":"Yes"}]}}}`,
			// Sent "in a thread": no thread lists it (a thread lists
			// messages), so is:thread does not find it.
			poll("$p4", "m.poll.start", "@a:example.org", 1767225607000,
				`{"m.poll.start":{"question":{"m.text":"kangaroo?"},"answers":[{"id":"y","m.text":"Yes"}]},"m.relates_to":{"rel_type":"m.thread","event_id":"$m1"}}`),
			// A question of two lines with a list of its own, and an
			// answer with a right-to-left override.
			poll("$p5", "m.poll.start", "@a:example.org", 1767225608000,
				`{"m.poll.start":{"question":{"m.text":"first\nsecond zebu? [fake | list]"},"answers":[{"id":"a","m.text":"x\u202eevil"},{"id":"b","m.text":"real"}]}}`),
		))
		ix := e.withSearch(t)
		results := func(q string) *goquery.Selection {
			t.Helper()
			return e.page(t, "/search?q="+q, http.StatusOK).Find("li.result")
		}
		r := results("noodle")
		if r.Length() != 1 {
			t.Fatalf("noodle: %d results", r.Length())
		}
		if href := r.Find("a.time").AttrOr("href", ""); !strings.HasSuffix(href, "/event/$p1") {
			t.Errorf("noodle's result links %q", href)
		}
		if s := r.Find(".snippet").Text(); s != "Poll: Where for lunch? [Pizzeria <b>Uno</b> | Noodle bar]" || r.Find(".snippet mark").Text() != "Noodle" || r.Find(".snippet b").Length() != 0 {
			t.Errorf("noodle's snippet: %q, marked %q", s, r.Find(".snippet mark").Text())
		}
		if n := results("lunch").Length(); n != 2 {
			t.Errorf("lunch: %d results, want the message and the poll", n)
		}
		for q, want := range map[string]int{"%22noodle+bar%22": 1, "%22bar+noodle%22": 0, "wombat": 1, "retire": 1, "zanzibar": 0, "quokka": 0, "platypus": 0,
			"kangaroo": 1, "is:thread+kangaroo": 0, "lunch+is:poll": 1, "is:poll": 4, "is:poll+from:@b:example.org": 1} {
			if n := results(q).Length(); n != want {
				t.Errorf("%s: %d results, want %d", q, n, want)
			}
		}
		var out struct {
			Results []struct {
				EventID string `json:"event_id"`
				Text    string `json:"text"`
				Poll    *struct {
					Question string   `json:"question"`
					Answers  []string `json:"answers"`
				} `json:"poll"`
			} `json:"results"`
		}
		decode(t, e.get(t, "/api/v1/search?q=wombat"), http.StatusOK, &out)
		if len(out.Results) != 1 || out.Results[0].EventID != "$p2" || out.Results[0].Text != "Poll: Which mirror to retire? [mirror01 wombat | keep both]" ||
			out.Results[0].Poll == nil || out.Results[0].Poll.Question != "Which mirror to retire?" || strings.Join(out.Results[0].Poll.Answers, "|") != "mirror01 wombat|keep both" {
			t.Errorf("API wombat: %+v", out.Results)
		}
		// One line, each part isolated from the others.
		out.Results = nil
		decode(t, e.get(t, "/api/v1/search?q=zebu"), http.StatusOK, &out)
		if len(out.Results) != 1 || out.Results[0].Text != "Poll: first\u240asecond zebu? [fake | list] [\u2068x\u202eevil\u2069 | real]" ||
			out.Results[0].Poll == nil || out.Results[0].Poll.Question != "first\nsecond zebu? [fake | list]" {
			t.Errorf("API zebu: %+v", out.Results)
		}
		out.Results = nil
		decode(t, e.get(t, "/api/v1/search?q=lunch"), http.StatusOK, &out)
		if len(out.Results) != 2 {
			t.Errorf("API lunch: %+v", out.Results)
		}
		for _, res := range out.Results {
			if (res.Poll != nil) != (res.EventID == "$p1") {
				t.Errorf("API lunch: %s has poll %+v", res.EventID, res.Poll)
			}
		}
		if f := e.feed(t, "/search/feed.atom?q=noodle"); len(f.Entries) != 1 || !strings.HasSuffix(f.Entries[0].Title, ": Poll: Where for lunch?") {
			t.Errorf("search feed: %+v", f.Entries)
		}

		e.addEvents(t, `{"event_id":"$x1","room_id":"!x:example.org","type":"m.room.redaction","sender":"@a:example.org","origin_server_ts":1767225607000,"redacts":"$p1","content":{"redacts":"$p1"}}`)
		if _, err := st.OptOut(context.Background(), "@b:example.org", "test"); err != nil {
			t.Fatal(err)
		}
		// The store's check keeps them out at once; the index follows.
		for _, caught := range []bool{false, true} {
			if caught {
				if _, err := ix.CatchUp(context.Background(), nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, q := range []string{"noodle", "wombat"} {
				if n := results(q).Length(); n != 0 {
					t.Errorf("%s after the redaction and the opt-out (caught up %v): %d results", q, caught, n)
				}
			}
			if n := results("lunch").Length(); n != 1 {
				t.Errorf("lunch after the poll's redaction (caught up %v): %d results", caught, n)
			}
		}
		if n, err := ix.DocCount(); err != nil || n != 3 {
			t.Errorf("the index holds %d documents (%v), want the message and two polls", n, err)
		}
	})
}
