package main

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// archiverMetrics registers the archiver's metrics on a registry of its
// own: ingest (transactions, events by path, ingest lag, sweeps, /sync,
// backfill), media fetches and queue, and the database pool. Retention
// purges are counted by purgeMetrics.
func archiverMetrics(st *store.Store, in *ingest.Ingester, fetcher *media.Fetcher) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.SetMetrics(ingest.NewMetrics(reg))

	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxarchive_archiver_media_fetches_total",
		Help: "Media downloads finished, by result (fetched; failed: retried later; gave_up: waits for `archiver media fetch`; quota: refused, the store is full).",
	}, []string{"result"})
	fetchedBytes := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxarchive_archiver_media_fetched_bytes_total", Help: "Bytes of media downloaded and stored.",
	})
	for _, r := range []string{"fetched", "failed", "gave_up", "quota"} {
		fetches.WithLabelValues(r)
	}
	reg.MustRegister(fetches, fetchedBytes, mediaCollector{st})
	if fetcher != nil {
		fetcher.OnFetch = func(result string, bytes int64) {
			fetches.WithLabelValues(result).Inc()
			fetchedBytes.Add(float64(bytes))
		}
	}

	pool := func(name, help string, v func(s sql.DBStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mxarchive_archiver_db_" + name, Help: help},
			func() float64 { return v(st.PoolStats()) })
	}
	reg.MustRegister(
		pool("open_connections", "Open database connections.", func(s sql.DBStats) float64 { return float64(s.OpenConnections) }),
		pool("in_use_connections", "Database connections in use.", func(s sql.DBStats) float64 { return float64(s.InUse) }),
		pool("idle_connections", "Idle database connections.", func(s sql.DBStats) float64 { return float64(s.Idle) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mxarchive_archiver_db_wait_total", Help: "Times the archiver waited for a free database connection."},
			func() float64 { return float64(st.PoolStats().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mxarchive_archiver_db_wait_seconds_total", Help: "Time the archiver spent waiting for a free database connection."},
			func() float64 { return st.PoolStats().WaitDuration.Seconds() }),
	)
	return reg
}

// purgeMetrics registers the retention purge's metrics on reg and returns
// the observer that feeds them, for retention.Run.
func purgeMetrics(reg *prometheus.Registry) retention.Observer {
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mxarchive_archiver_purge_runs_total",
		Help: "Retention purge rounds finished, by result (ok; failed: retried at the next retention.purge_interval).",
	}, []string{"result"})
	purged := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "mxarchive_archiver_purged_events_total", Help: "Expired events the retention purge deleted.",
	})
	for _, r := range []string{"ok", "failed"} {
		runs.WithLabelValues(r)
	}
	reg.MustRegister(runs, purged)
	return retention.Observer{
		Batch: func(b retention.Batch) { purged.Add(float64(b.Deleted)) },
		Round: func(err error) {
			if err != nil {
				runs.WithLabelValues("failed").Inc()
				return
			}
			runs.WithLabelValues("ok").Inc()
		},
	}
}

// mediaCollector reports the media store's counts, read with one query per
// scrape.
type mediaCollector struct{ st *store.Store }

var (
	mediaQueuedDesc = prometheus.NewDesc("mxarchive_archiver_media_queued", "Media fetches waiting (new or to retry).", nil, nil)
	mediaGaveUpDesc = prometheus.NewDesc("mxarchive_archiver_media_gave_up", "Media fetches given up (too large, refused, failing).", nil, nil)
	mediaFilesDesc  = prometheus.NewDesc("mxarchive_archiver_media_stored_files", "Distinct files in the media store.", nil, nil)
	mediaBytesDesc  = prometheus.NewDesc("mxarchive_archiver_media_stored_bytes", "Bytes in the media store (thumbnails aside).", nil, nil)
	mediaSpaceDesc  = prometheus.NewDesc("mxarchive_archiver_media_waiting_for_space", "Media fetches waiting because the store is full (media.max_total).", nil, nil)
)

func (mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- mediaQueuedDesc
	ch <- mediaGaveUpDesc
	ch <- mediaFilesDesc
	ch <- mediaBytesDesc
	ch <- mediaSpaceDesc
}

func (c mediaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.st.MediaStats(ctx)
	if err != nil {
		for _, d := range []*prometheus.Desc{mediaQueuedDesc, mediaGaveUpDesc, mediaFilesDesc, mediaBytesDesc, mediaSpaceDesc} {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	ch <- prometheus.MustNewConstMetric(mediaQueuedDesc, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(mediaGaveUpDesc, prometheus.GaugeValue, float64(s.GaveUp))
	ch <- prometheus.MustNewConstMetric(mediaFilesDesc, prometheus.GaugeValue, float64(s.Blobs))
	ch <- prometheus.MustNewConstMetric(mediaBytesDesc, prometheus.GaugeValue, float64(s.Bytes))
	ch <- prometheus.MustNewConstMetric(mediaSpaceDesc, prometheus.GaugeValue, float64(s.Quota))
}
