package ingest

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxarchive/mxarchive/store"
)

// Metrics are the archiver's ingest metrics (transactions, events stored by
// the path that brought them, ingest lag, sweeps and /sync, backfill),
// registered on the program's own registry. Labels are bounded: results and
// sources from fixed lists, never room IDs. A nil *Metrics records nothing.
type Metrics struct {
	txns        *prometheus.CounterVec
	txnEvents   prometheus.Counter
	txnDuration prometheus.Histogram
	stored      *prometheus.CounterVec
	runs        *prometheus.CounterVec
	backfills   *prometheus.CounterVec
	backfilled  prometheus.Counter
	// newest is, per live path (transaction, /sync, sweep), the
	// origin_server_ts (ms) of the newest event it stored: the base of that
	// path's ingest lag. Apart, so that /sync still bringing events while
	// transactions have stopped shows as the transactions' lag growing.
	// Backfills and imports bring old history by nature: they have none.
	newest map[store.Source]*atomic.Int64
	now    func() time.Time
}

// NewMetrics registers the ingest metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		txns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxarchive_archiver_transactions_total",
			Help: "Appservice transactions answered, by result (ok; failed: not stored or not acted on, the homeserver retries; bad_request).",
		}, []string{"result"}),
		txnEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mxarchive_archiver_transaction_events_total",
			Help: "Events received in appservice transactions (stored or not).",
		}),
		txnDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mxarchive_archiver_transaction_duration_seconds",
			Help:    "Time from receiving an appservice transaction to acknowledging it (or failing it).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 15, 30},
		}),
		stored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxarchive_archiver_events_stored_total",
			Help: "Events newly stored, by the path that brought them (txn, sync, sweep, backfill, import, state, other); sync and sweep count what transactions missed.",
		}, []string{"source"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxarchive_archiver_second_path_runs_total",
			Help: "Runs of the second path: /sync long-polls and per-room /messages sweeps, by result (ok, failed).",
		}, []string{"path", "result"}),
		backfills: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxarchive_archiver_backfills_total",
			Help: "Room backfills finished, by result (ok, failed).",
		}, []string{"result"}),
		backfilled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mxarchive_archiver_backfill_events_read_total",
			Help: "Events read by backfills (stored or already there).",
		}),
		now:    time.Now,
		newest: map[store.Source]*atomic.Int64{},
	}
	reg.MustRegister(m.txns, m.txnEvents, m.txnDuration, m.stored, m.runs, m.backfills, m.backfilled)
	for _, src := range []store.Source{store.SourceTransaction, store.SourceSync, store.SourceSweep} {
		newest := &atomic.Int64{}
		m.newest[src] = newest
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "mxarchive_archiver_ingest_lag_seconds",
			Help:        "Now minus the origin time of the newest event this live path (txn, sync, sweep) stored since start (NaN before its first).",
			ConstLabels: prometheus.Labels{"path": string(src)},
		}, func() float64 {
			n := newest.Load()
			if n == 0 {
				return math.NaN()
			}
			return m.now().Sub(time.UnixMilli(n)).Seconds()
		}))
	}
	// Zero series from the start, so a rate() has a base.
	for _, r := range []string{"ok", "failed", "bad_request"} {
		m.txns.WithLabelValues(r)
	}
	for _, s := range []store.Source{store.SourceTransaction, store.SourceSync, store.SourceSweep, store.SourceBackfill, store.SourceImport, store.SourceState, store.SourceOther} {
		m.stored.WithLabelValues(string(s))
	}
	for _, p := range []string{"sync", "sweep"} {
		m.runs.WithLabelValues(p, "ok")
		m.runs.WithLabelValues(p, "failed")
	}
	m.backfills.WithLabelValues("ok")
	m.backfills.WithLabelValues("failed")
	return m
}

// transaction records an answered transaction of n events.
func (m *Metrics) transaction(result string, n int, d time.Duration) {
	if m == nil {
		return
	}
	m.txns.WithLabelValues(result).Inc()
	m.txnEvents.Add(float64(n))
	m.txnDuration.Observe(d.Seconds())
}

// storedEvents records a committed batch from src: stored new events and
// the newest origin time among the batch.
func (m *Metrics) storedEvents(src store.Source, stored int, newestTS int64) {
	if m == nil {
		return
	}
	m.stored.WithLabelValues(string(src)).Add(float64(stored))
	newest := m.newest[src]
	if newest == nil || stored == 0 {
		return
	}
	for {
		old := newest.Load()
		if newestTS <= old || newest.CompareAndSwap(old, newestTS) {
			return
		}
	}
}

// run records one run of the second path ("sync" or "sweep").
func (m *Metrics) run(path string, err error) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(path, result(err)).Inc()
}

// backfill records a finished backfill that read events.
func (m *Metrics) backfill(events int, err error) {
	if m == nil {
		return
	}
	m.backfills.WithLabelValues(result(err)).Inc()
	m.backfilled.Add(float64(events))
}

func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// SetMetrics makes in record its metrics on m (nil: none).
func (in *Ingester) SetMetrics(m *Metrics) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.metrics = m
}
