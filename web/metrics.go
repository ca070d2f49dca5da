package web

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/store"
)

// Metrics are archive-web's Prometheus metrics, registered on a registry
// the program owns and serves on its own listener (never the public port).
// Labels are bounded: the Echo route pattern, never the path asked for,
// and no room IDs.
type Metrics struct {
	requests *prometheus.HistogramVec
	searches *prometheus.HistogramVec
	// cacheLookups counts render-cache lookups by kind (message,
	// response) and result (hit, miss); cache is the server's render
	// cache, for its size (set by New).
	cacheLookups *prometheus.CounterVec
	cache        atomic.Pointer[renderCache]
}

// NewMetrics registers the web's metrics on reg. indexPosition (may be
// nil) reports the search index's change-feed position, for the index lag.
func NewMetrics(reg prometheus.Registerer, st *store.Store, indexPosition func() (int64, error)) *Metrics {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mxarchive_web_request_duration_seconds",
			Help:    "Time to answer a request, by route pattern and status class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15},
		}, []string{"route", "code"}),
		searches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mxarchive_web_search_duration_seconds",
			Help:    "Time the search index took, by sort order and result (ok, timeout, bad_query, error).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 3},
		}, []string{"sort", "result"}),
	}
	m.cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxarchive_web_cache_lookups_total",
		Help: "Render cache lookups, by kind (message: a rendered message; response: a whole page or API answer; pagekey: a repeated text log or JSON day answered without loading it) and result (hit, miss).",
	}, []string{"kind", "result"})
	for _, k := range []string{"message", "response", "pagekey"} {
		m.cacheLookups.WithLabelValues(k, "hit")
		m.cacheLookups.WithLabelValues(k, "miss")
	}
	reg.MustRegister(m.requests, m.searches, m.cacheLookups,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mxarchive_web_cache_bytes",
			Help: "Bytes the render cache holds by its own count (bounded by web.cache_size).",
		}, func() float64 { return float64(m.cache.Load().bytes()) }))
	head := func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h, err := st.FeedHead(ctx)
		if err != nil {
			return math.NaN()
		}
		return float64(h)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "mxarchive_web_feed_position", Help: "Newest change-feed position in the database.",
	}, head))
	if indexPosition != nil {
		pos := func() float64 {
			p, err := indexPosition()
			if err != nil {
				return math.NaN()
			}
			return float64(p)
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mxarchive_web_index_position", Help: "Change-feed position the search index reflects.",
			}, pos),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "mxarchive_web_index_lag_changes", Help: "Change-feed entries the search index is behind the database.",
			}, func() float64 { return head() - pos() }),
		)
	}
	pool := func(name, help string, v func(s sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mxarchive_web_db_" + name, Help: help},
			func() float64 { return v(st.PoolStats()) })
	}
	reg.MustRegister(
		pool("open_connections", "Open database connections.", func(s sql.DBStats) float64 { return float64(s.OpenConnections) }),
		pool("in_use_connections", "Database connections in use.", func(s sql.DBStats) float64 { return float64(s.InUse) }),
		pool("idle_connections", "Idle database connections.", func(s sql.DBStats) float64 { return float64(s.Idle) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mxarchive_web_db_wait_total", Help: "Times a request waited for a free database connection."},
			func() float64 { return float64(st.PoolStats().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mxarchive_web_db_wait_seconds_total", Help: "Time requests spent waiting for a free database connection."},
			func() float64 { return st.PoolStats().WaitDuration.Seconds() }),
	)
	return m
}

// cacheLookup records one render-cache lookup.
func (m *Metrics) cacheLookup(kind string, hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cacheLookups.WithLabelValues(kind, result).Inc()
}

// observeRequest records one answered request.
func (m *Metrics) observeRequest(c echo.Context, took time.Duration) {
	if m == nil {
		return
	}
	// c.Path() is the matched route's pattern; an unmatched request gets
	// one series, whatever path it asked for.
	route := c.Path()
	if route == "" || route == "/*" || c.Response().Status == 404 && !isRoute(c) {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route, strconv.Itoa(c.Response().Status/100)+"xx").Observe(took.Seconds())
}

// isRoute tells a 404 of a known route (no such room) from no route at all.
func isRoute(c echo.Context) bool {
	for _, r := range c.Echo().Routes() {
		if r.Path == c.Path() {
			return true
		}
	}
	return false
}

// observeSearch records one search by its sort order and outcome.
func (m *Metrics) observeSearch(sort string, err error, took time.Duration) {
	if m == nil {
		return
	}
	switch sort {
	case indexer.SortNewest, indexer.SortOldest:
	default:
		sort = indexer.SortRelevance
	}
	result := "ok"
	switch {
	case errors.Is(err, indexer.ErrBadRequest):
		result = "bad_query"
	case errors.Is(err, context.DeadlineExceeded):
		result = "timeout"
	case err != nil:
		result = "error"
	}
	m.searches.WithLabelValues(sort, result).Observe(took.Seconds())
}
