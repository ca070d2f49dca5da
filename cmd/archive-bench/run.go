package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/gcpolicy"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/store"
)

// benchOptions are the flags of `archive-bench run`.
type benchOptions struct {
	replay
	peers          bool
	scale          int
	dbs            []string
	postgres       string
	search         budget
	clients        int
	concurrentTime time.Duration
	ackTxns        int
	redactions     int
	dir            string
	keep           bool
	out            string
	webBin         string
	following      bool
}

func parseRun(args []string, stderr io.Writer) (benchOptions, error) {
	var o benchOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.replay.register(fs)
	fs.BoolVar(&o.peers, "peers", true, "also measure the peers (FTS5, PostgreSQL full-text search) and the linear scan")
	fs.IntVar(&o.scale, "scale", 100_000, "events to replay the input to")
	dbs := fs.String("db", "sqlite,postgres", "databases to measure ours on, comma-separated")
	fs.StringVar(&o.postgres, "postgres", os.Getenv("MXARCHIVE_BENCH_POSTGRES"), "postgres:// URL of a server where the benchmark may create databases (default: start a private cluster from the system's binaries)")
	fs.IntVar(&o.search.runs, "runs", 200, "most runs of each query class in each sort")
	fs.DurationVar(&o.search.dur, "cell-time", 3*time.Second, "time after which a query class stops being repeated (after 20 runs)")
	fs.IntVar(&o.clients, "clients", 10, "concurrent clients for the throughput figures")
	fs.DurationVar(&o.concurrentTime, "concurrent-time", 5*time.Second, "duration of each concurrent-clients measurement")
	fs.IntVar(&o.ackTxns, "ack-txns", 100, "100-event appservice transactions to time")
	fs.IntVar(&o.redactions, "redactions", 20, "redactions whose propagation to search and the page is timed")
	fs.StringVar(&o.dir, "dir", "", "work directory for the databases and indexes (default: a temporary one, removed at the end)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	fs.StringVar(&o.out, "o", "bench-results", "directory for bench.md, bench.json and bench.svg (empty: print only)")
	fs.StringVar(&o.webBin, "web", "", "the archive-web binary (default: the one beside archive-bench)")
	fs.BoolVar(&o.following, "following", true, "also import a second time with archive-web running and following the change feed, and time until the import is searchable")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.search.minRuns = min(20, o.search.runs)
	for _, d := range strings.Split(*dbs, ",") {
		switch d = strings.TrimSpace(d); d {
		case "sqlite", "postgres":
			if !slices.Contains(o.dbs, d) {
				o.dbs = append(o.dbs, d)
			}
		case "":
		default:
			return o, fmt.Errorf("-db: unknown database %q (want sqlite, postgres)", d)
		}
	}
	if len(o.dbs) == 0 || o.scale <= 0 || o.search.runs <= 0 || o.clients <= 0 {
		return o, errors.New("-db, -scale, -runs and -clients must not be empty or zero")
	}
	if o.webBin == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		o.webBin = filepath.Join(filepath.Dir(exe), "archive-web")
	}
	if _, err := os.Stat(o.webBin); err != nil {
		return o, fmt.Errorf("archive-web binary: %w (build it with `make build`, or pass -web)", err)
	}
	return o, nil
}

// benchRun measures everything the benchmark issue asks for, in one run on
// one dataset: ours on each database, then the peers, and writes the
// report.
func benchRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	started := time.Now()
	progress := func(format string, args ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
	}
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "archive-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}

	progress("preparing %d events", o.scale)
	ds, err := o.replay.prepare(ctx, o.scale, dir)
	if err != nil {
		return err
	}
	gauge := startGauge()
	rep := &report{Machine: machine(), Started: started.UTC().Format(time.RFC3339), Scale: o.scale,
		Dataset: datasetInfo{Source: ds.source, Events: ds.events, Messages: ds.count},
		Settings: settings{Runs: o.search.runs, CellTime: o.search.dur.String(), Clients: o.clients,
			ConcurrentTime: o.concurrentTime.String(), AckTransactions: o.ackTxns, Redactions: o.redactions, PageSize: pageSize, PGRankLimit: pgRankLimit}}
	rep.Queries = queryMix(ds.msgs)
	day := busiestDay(ds.msgs, 1000)
	rep.Day = day

	pgURL := o.postgres
	needPG := slices.Contains(o.dbs, "postgres")
	if needPG && pgURL == "" {
		progress("starting a private PostgreSQL cluster")
		cl, err := pgtest.StartCluster()
		if err != nil {
			return fmt.Errorf("PostgreSQL is needed for -db postgres and the Synapse-style peer: %w (install it, pass -postgres, or -db sqlite)", err)
		}
		defer cl.Stop()
		pgURL = cl.URL
	}
	if pgURL != "" {
		rep.Machine.PostgreSQL = serverVersion(ctx, pgURL)
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The messages (some 200 MB at 1M, a few pointers each) are let go
	// while ours is measured, and read again for the peers: held, every
	// collection in this process marked them, and a search that
	// allocated during one paid for part of the marking (isolated 7-9 ms
	// samples in cells whose p50 was under 1 ms).
	ds.msgs = nil
	runtime.GC()
	for _, db := range o.dbs {
		cfg := store.Config{Type: db}
		if db == "postgres" {
			if cfg.URI, err = pgtest.CreateDatabase(pgURL, "mxarchive_bench"); err != nil {
				return err
			}
		}
		res, err := measureOurs(ctx, o, cfg, filepath.Join(dir, db), ds, rep, log, progress)
		if err != nil {
			return fmt.Errorf("ours on %s: %w", db, err)
		}
		if o.following {
			if err := measureFollowingOn(ctx, o, db, pgURL, filepath.Join(dir, db+"-following"), ds, &res, log, progress); err != nil {
				return fmt.Errorf("ours on %s, archive-web following the import: %w", db, err)
			}
		}
		rep.Ours = append(rep.Ours, res)
	}

	if !o.peers {
		rep.Seconds = time.Since(started).Seconds()
		rep.Machine.Speed = gauge.finish()
		progress("done")
		return rep.write(stdout, o.out)
	}
	if ds.msgs, err = readMessages(ctx, ds.path); err != nil {
		return err
	}
	progress("linear scan")
	ls := newLinearScan(ds.msgs)
	rep.Linear = linearResult{Name: "linear scan (in memory)"}
	for _, c := range rep.Queries {
		lat, n, _ := sequential(ctx, budget{runs: 5, minRuns: 5}, func(context.Context) (int, error) { return ls.search(c), nil })
		rep.Linear.Search = append(rep.Linear.Search, cell{Class: c.Name, Sort: sortNewest, Results: n, latency: lat})
	}

	type peerMaker struct {
		name string
		make func() (peer, error)
	}
	makers := []peerMaker{{"SQLite FTS5", func() (peer, error) { return newFTS5(ctx, dir, ds.msgs) }}}
	if pgURL != "" {
		makers = append(makers, peerMaker{"PostgreSQL FTS", func() (peer, error) {
			u, err := pgtest.CreateDatabase(pgURL, "mxarchive_bench_peer")
			if err != nil {
				return nil, err
			}
			return newPGFTS(ctx, u, ds.msgs)
		}})
	}
	for _, m := range makers {
		progress("%s: loading %d messages", m.name, len(ds.msgs))
		t0 := time.Now()
		p, err := m.make()
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		res := peerResult{Name: p.name(), BuildSeconds: time.Since(t0).Seconds()}
		if res.SizeBytes, err = p.size(ctx); err != nil {
			p.close()
			return err
		}
		res.BytesPerMessage = float64(res.SizeBytes) / float64(len(ds.msgs))
		progress("%s: searching", p.name())
		res.Search, res.Concurrent, err = measureSearch(ctx, o.search, o.clients, o.concurrentTime, rep.Queries, sorts, p.search)
		p.close()
		if err != nil {
			return fmt.Errorf("%s: %w", p.name(), err)
		}
		rep.Peers = append(rep.Peers, res)
	}
	rep.Seconds = time.Since(started).Seconds()
	rep.Machine.Speed = gauge.finish()
	progress("done")
	return rep.write(stdout, o.out)
}

// measureFollowing on a fresh database of its own (a second one on
// PostgreSQL, a directory beside the first for SQLite), removed after.
func measureFollowingOn(ctx context.Context, o benchOptions, db, pgURL, dataDir string, ds *dataset, res *oursResult,
	log *slog.Logger, progress func(string, ...any)) error {
	cfg := store.Config{Type: db}
	if db == "postgres" {
		var err error
		if cfg.URI, err = pgtest.CreateDatabase(pgURL, "mxarchive_bench_following"); err != nil {
			return err
		}
	}
	progress("%s: importing with archive-web following", db)
	fr, err := measureFollowing(ctx, o.webBin, cfg, dataDir, ds, log)
	if !o.keep {
		// A second copy of the archive and its index: at 1M, 1.3 GB.
		os.RemoveAll(dataDir)
	}
	if err != nil {
		return err
	}
	res.FollowingImportSeconds, res.FollowingSearchableSeconds, res.FollowingPeakRSSBytes = fr.ImportSeconds, fr.SearchableSeconds, fr.PeakRSS
	res.FollowingSearchablePerSecond = float64(ds.count) / fr.SearchableSeconds
	return nil
}

// measureSearch runs the query mix in the given sorts, one query at a
// time within the budget, then (clients > 0) with that many clients at
// once for concTime.
func measureSearch(ctx context.Context, b budget, clients int, concTime time.Duration, classes []queryClass, sorts []string,
	search func(context.Context, queryClass, string) (int, error)) ([]cell, throughput, error) {
	var cells []cell
	var ops []func(context.Context) (int, error)
	for _, c := range classes {
		for _, sort := range sorts {
			op := func(ctx context.Context) (int, error) { return search(ctx, c, sort) }
			lat, n, err := sequential(ctx, b, op)
			if err != nil {
				return nil, throughput{}, fmt.Errorf("%s, %s: %w", c.Name, sort, err)
			}
			cells = append(cells, cell{Class: c.Name, Sort: sort, Results: n, latency: lat})
			ops = append(ops, op)
		}
	}
	if clients <= 0 || len(ops) == 0 {
		return cells, throughput{}, nil
	}
	tp, err := concurrent(ctx, clients, concTime, ops)
	return cells, tp, err
}

// measureOurs imports the dataset into a fresh store, indexes it, and
// measures search, appservice acks, and (through a real archive-web) day
// pages, redaction propagation and memory.
func measureOurs(ctx context.Context, o benchOptions, cfg store.Config, dataDir string, ds *dataset, rep *report,
	log *slog.Logger, progress func(string, ...any)) (oursResult, error) {
	res := oursResult{Database: cfg.Type}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return res, err
	}
	st, err := store.Open(ctx, cfg, dataDir, log, store.Options{})
	if err != nil {
		return res, err
	}
	defer st.Close()
	res.Database = st.Dialect()

	progress("%s: importing", res.Database)
	in := ingest.New(st, log, botID)
	t0 := time.Now()
	imp, err := in.ImportFile(ctx, ds.path, ingest.ImportOptions{})
	if err != nil {
		return res, err
	}
	res.ImportSeconds = time.Since(t0).Seconds()
	if len(imp.Rejected) > 0 {
		return res, fmt.Errorf("import rejected %d events, first: %v", len(imp.Rejected), imp.Rejected[0])
	}

	// The index is built by archive-web itself (`archive-web reindex`), as
	// an operator builds it: its time and its memory are archive-web's.
	progress("%s: indexing (archive-web reindex)", res.Database)
	rx, err := runReindex(ctx, o.webBin, cfg, dataDir)
	if err != nil {
		return res, err
	}
	res.IndexSeconds, res.ReindexPeakRSSBytes, res.ReindexPeakAnonBytes = rx.Seconds, rx.PeakRSS, rx.PeakAnon
	indexPath := filepath.Join(dataDir, "index")
	ix, err := indexer.Open(st, indexPath, indexer.Options{}, log)
	if err != nil {
		return res, err
	}
	docs, _ := ix.DocCount()
	res.Messages = int(docs)
	res.StoredPerSecond = float64(ds.count) / res.ImportSeconds
	res.SearchablePerSecond = float64(ds.count) / (res.ImportSeconds + res.IndexSeconds)
	// Let the index's background merges finish: measuring during them
	// measures them.
	settle(indexPath, 2*time.Second, time.Minute)
	res.IndexBytes = dirSize(indexPath)
	res.IndexBytesPerMessage = float64(res.IndexBytes) / float64(max(docs, 1))

	progress("%s: searching", res.Database)
	parsed := map[string]indexer.Query{}
	for _, c := range rep.Queries {
		q, err := indexer.ParseQuery(c.Ours)
		if err != nil {
			ix.Close()
			return res, fmt.Errorf("%s: %w", c.Name, err)
		}
		parsed[c.Name] = q
	}
	// The search is archive-web's, measured in this process: collected as
	// archive-web is (the peers' searches, measured while the dataset is
	// held, keep Go's default).
	restoreGC := gcpolicy.Start(time.Second)
	res.Search, res.Concurrent, err = measureSearch(ctx, o.search, o.clients, o.concurrentTime, rep.Queries, sorts, func(ctx context.Context, c queryClass, sort string) (int, error) {
		r, err := ix.Search(ctx, indexer.Request{Query: parsed[c.Name], Sort: sort, Size: pageSize})
		return len(r.Events), err
	})
	restoreGC()
	ix.Close()
	if err != nil {
		return res, err
	}

	progress("%s: appservice transactions", res.Database)
	as, err := startAppService(st, log, rep.Day, ds.lastTS+1)
	if err != nil {
		return res, err
	}
	defer as.close()
	if res.Ack, err = as.measureAcks(ctx, o.ackTxns); err != nil {
		return res, err
	}

	progress("%s: archive-web (day pages, redaction propagation, memory)", res.Database)
	if err := measureWeb(ctx, o, cfg, dataDir, as, rep.Day, &res); err != nil {
		return res, err
	}
	return res, nil
}

// settle waits until dir's size has not changed for quiet, at most max.
func settle(dir string, quiet, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	last, since := dirSize(dir), time.Now()
	for time.Now().Before(deadline) && time.Since(since) < quiet {
		time.Sleep(250 * time.Millisecond)
		if n := dirSize(dir); n != last {
			last, since = n, time.Now()
		}
	}
}

// machine describes where the benchmark ran.
func machine() machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			m.MemoryBytes = kb << 10
		}
	}
	return m
}
