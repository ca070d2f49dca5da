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
				`{"event_id":"$ret","room_id":"!x:example.org","type":"m.room.retention","sender":"@a:example.org","origin_server_ts":`+fmt.Sprint(now-100)+`,"state_key":"","content":{"max_lifetime":`+fmt.Sprint(lifetime)+`}}`,
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
