package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/store"
)

// followRun is what an operator sees when the archiver imports while
// archive-web runs: archive-web follows the change feed as it grows, and
// the import is searchable once its index holds every change.
type followRun struct {
	// ImportSeconds is the import alone; SearchableSeconds runs from the
	// import's start until archive-web's index holds the whole feed.
	ImportSeconds, SearchableSeconds float64
	// PeakRSS is archive-web's peak resident set meanwhile.
	PeakRSS int64
}

// measureFollowing imports the dataset into a fresh store at dataDir while
// archive-web runs on it and follows the change feed, and waits until
// archive-web's /readyz?index_lag=0 says its index holds every change
// the import made: the last imported message is then searchable.
func measureFollowing(ctx context.Context, webBin string, cfg store.Config, dataDir string, ds *dataset, log *slog.Logger) (followRun, error) {
	var run followRun
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return run, err
	}
	// The bench's store creates the schema before archive-web opens it.
	st, err := store.Open(ctx, cfg, dataDir, log, store.Options{})
	if err != nil {
		return run, err
	}
	defer st.Close()
	w, err := startWeb(ctx, webBin, cfg, dataDir, "MXARCHIVE_WEB_READY_INDEX_LAG=0")
	if err != nil {
		return run, err
	}
	defer w.stop()
	in := ingest.New(st, log, botID)
	t0 := time.Now()
	imp, err := in.ImportFile(ctx, ds.path, ingest.ImportOptions{})
	if err != nil {
		return run, err
	}
	run.ImportSeconds = time.Since(t0).Seconds()
	if len(imp.Rejected) > 0 {
		return run, fmt.Errorf("import rejected %d events, first: %v", len(imp.Rejected), imp.Rejected[0])
	}
	// The feed stops growing with the import: readiness with no lag now
	// means the index holds all of it. Polled every 2 ms (until); a
	// readiness check is two indexed reads.
	took, err := until(ctx, t0, time.Hour, "archive-web's index holds the import", func() (bool, error) {
		code, _, err := w.get(ctx, "/readyz?index_lag=0")
		if err != nil {
			return false, err
		}
		select {
		case <-w.exited:
			return false, fmt.Errorf("archive-web exited: %s", tail(w.logs.String(), 4000))
		default:
		}
		return code == http.StatusOK, nil
	})
	if err != nil {
		return run, err
	}
	run.SearchableSeconds = took.Seconds()
	run.PeakRSS = w.peakRSS()
	return run, nil
}
