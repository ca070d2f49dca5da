package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// scrape reads the registry as Prometheus would, over HTTP.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricValue returns the value of the sample whose line starts with
// prefix (name and labels), or -1.
func metricValue(text, prefix string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestWebMetricsMove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		reg := prometheus.NewRegistry()
		var indexed int64
		opts := web.Options{IndexPosition: func() (int64, error) { return indexed, nil }}
		opts.Metrics = web.NewMetrics(reg, st, opts.IndexPosition)
		e := newEnvRender(t, st, render.New(render.Options{}), opts, demoFile)
		head, err := st.FeedHead(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		before := scrape(t, reg)
		if got := metricValue(before, "mxarchive_web_index_lag_changes"); got != float64(head) {
			t.Errorf("index lag = %v, want %d (nothing indexed)\n%s", got, head, before)
		}
		indexed = head
		day := `mxarchive_web_request_duration_seconds_count{code="2xx",route="/room/:room/:date"}`
		if got := metricValue(before, day); got > 0 {
			t.Fatalf("day pages counted before any request: %v", got)
		}
		e.get(t, "/room/"+demoRoom+"/2026-03-03")
		e.get(t, "/room/"+demoRoom+"/2026-03-03?x=1")
		e.get(t, "/no/such/page/"+strings.Repeat("x", 20))
		after := scrape(t, reg)
		if got := metricValue(after, day); got != 2 {
			t.Errorf("%s = %v, want 2\n%s", day, got, after)
		}
		// An unknown path is one series, whatever was asked: no label per URL.
		if got := metricValue(after, `mxarchive_web_request_duration_seconds_count{code="4xx",route="unmatched"}`); got != 1 {
			t.Errorf("unmatched 404s = %v, want 1", got)
		}
		if strings.Contains(after, "xxxxxxxxxx") || strings.Contains(after, demoRoom) {
			t.Error("a request path or room ID leaked into a label")
		}
		if got := metricValue(after, "mxarchive_web_index_lag_changes"); got != 0 {
			t.Errorf("index lag after catching up = %v, want 0", got)
		}
		if got := metricValue(after, "mxarchive_web_db_open_connections"); got < 1 {
			t.Errorf("db open connections = %v, want at least 1", got)
		}
	})
}

// The render cache's hit rate and size are metrics: a page asked for
// twice is a response and page-key miss, then a page-key hit (which
// leads to the cached response without asking for it by ETag), and its
// formatted message is rendered (missed) once; its plain lines are
// rendered without the cache (plainHTML).
func TestWebCacheMetrics(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		reg := prometheus.NewRegistry()
		opts := cacheOn
		opts.Metrics = web.NewMetrics(reg, st, nil)
		formatted := zLine("$f", "m.room.message", 3000, aUser, nil,
			`{"msgtype":"m.text","body":"*gammaword*","format":"org.matrix.custom.html","formatted_body":"<em>gammaword</em>"}`)
		e := newEnvRender(t, st, render.New(render.Options{}), opts, writeRoom(t, append(cacheRoom(), formatted)...))
		const day = "/room/!x:example.org/2026-01-01"
		for range 2 {
			if w := e.get(t, day); w.Code != http.StatusOK {
				t.Fatalf("%s: %d", day, w.Code)
			}
		}
		got := scrape(t, reg)
		for series, want := range map[string]float64{
			`mxarchive_web_cache_lookups_total{kind="response",result="miss"}`: 1,
			`mxarchive_web_cache_lookups_total{kind="response",result="hit"}`:  0,
			`mxarchive_web_cache_lookups_total{kind="pagekey",result="miss"}`:  1,
			`mxarchive_web_cache_lookups_total{kind="pagekey",result="hit"}`:   1,
			`mxarchive_web_cache_lookups_total{kind="message",result="hit"}`:   0,
			`mxarchive_web_cache_lookups_total{kind="message",result="miss"}`:  1,
		} {
			if v := metricValue(got, series); v != want {
				t.Errorf("%s = %v, want %v", series, v, want)
			}
		}
		if v := metricValue(got, "mxarchive_web_cache_bytes"); v <= 0 {
			t.Errorf("cache bytes = %v after two pages\n%s", v, got)
		}
	})
}
