// Command archive-web serves the archive: pages, plain-text logs, search and
// the JSON API, read from the store, with its own search index that follows
// the store's change feed. This file only wires configuration, the store,
// the index, the renderer and the web server together.
//
//	archive-web [-c config.yaml]            serve
//	archive-web [-c config.yaml] reindex    rebuild the search index
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/gcpolicy"
	"github.com/mxarchive/mxarchive/internal/metricslisten"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "archive-web:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, if not nil, receives the listening
// address once the server serves the archive, not only answers that it is
// starting (tests use it).
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	fs := flag.NewFlagSet("archive-web", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "configuration file (default: built-in defaults)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: archive-web [-c config.yaml]            serve the archive")
		fmt.Fprintln(stderr, "       archive-web [-c config.yaml] reindex    rebuild the search index (stop the server first)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	// Before the store is opened, which the server waits for.
	if fs.NArg() > 1 || fs.NArg() == 1 && fs.Arg(0) != "reindex" {
		return fmt.Errorf("unknown command %q (want reindex, or none to serve)", strings.Join(fs.Args(), " "))
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	log := cfg.Log.NewLogger(stderr)
	// A small heap is collected less often (gcpolicy), and a reindex's
	// as its budget allows. A server's heap is let grow to what it holds
	// with a full render cache, and takes that memory now (heapFloor).
	limit, limited := memoryLimit(cfg.Web, os.Getenv("GOMEMLIMIT"))
	if limited {
		startMemoryLimit(ctx, limit, log)
	}
	var stopGC func()
	switch {
	case fs.Arg(0) == "reindex" && limited:
		stopGC = gcpolicy.StartBulk(time.Second, limit, selfResidentBytes)
	case fs.Arg(0) == "reindex":
		stopGC = gcpolicy.Start(time.Second)
	default:
		if !limited {
			limit = debug.SetMemoryLimit(-1) // GOMEMLIMIT's, or none (math.MaxInt64)
		}
		floor := heapFloor(cfg.Web, limit)
		stopGC = gcpolicy.StartFloor(time.Second, floor)
		if floor > 0 {
			took := gcpolicy.Pretouch(floor)
			log.Debug("the heap took its memory", "bytes", floor, "took", took)
		}
	}
	defer stopGC()

	// The server listens before its database answers and while it warms
	// up: /healthz says the process lives (a liveness probe must not
	// restart it for waiting), the rest is 503 until it serves.
	errc := make(chan error, 1)
	var (
		starting *startingHandler
		hs       *http.Server
		addr     string
	)
	if fs.Arg(0) == "" {
		ln, err := net.Listen("tcp", cfg.Web.Listen)
		if errors.Is(err, syscall.EADDRINUSE) {
			// Before the index, whose lock said so when it came first.
			return fmt.Errorf("listen on %s: %w (is another archive-web running with this configuration? stop it first)", cfg.Web.Listen, err)
		}
		if err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Web.Listen, err)
		}
		starting = new(startingHandler)
		hs = &http.Server{
			Handler:           starting,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
		}
		go func() { errc <- hs.Serve(ln) }()
		defer hs.Close() // a start that fails; a stop shuts it down first
		addr = ln.Addr().String()
		log.Info("archive-web listening; it serves the archive once started", "url", "http://"+addr+"/")
	}

	// ReadMostly: archive-web's memory is its own caches, not the SQLite
	// file mapped in (store.Options.ReadMostly). MustExist: it only reads
	// the archive, and one that is not there is a mistake (a data_dir with
	// a typo, a volume not mounted), not a new archive to serve empty.
	open := store.OpenWaiting // the server waits for a database that does not answer yet
	if fs.Arg(0) == "reindex" {
		open = store.Open
	}
	st, err := open(ctx, store.Config(cfg.Database), cfg.DataDir, log,
		store.Options{Retention: cfg.Retention, ShowFormerlyPublic: cfg.Archive.ShowFormerlyPublic, ReadMostly: true, ReadsWhole: fs.Arg(0) == "reindex", MustExist: true})
	if err != nil {
		if ctx.Err() != nil && fs.Arg(0) == "" {
			return nil // stopped while it waited for the database: a stop
		}
		return err
	}
	defer st.Close()
	opts := web.Options{BaseURL: cfg.Web.BaseURL, CacheBytes: cfg.Web.CacheSize, DayPageSize: cfg.Web.DayPageSize, MaxDayReads: cfg.Web.MaxDayReads}
	if opts.BaseURL == "" {
		log.Warn("web.base_url is not set: the API links by path and there are no sitemaps or feeds")
	}
	if cfg.Homeserver.Domain != "" {
		opts.Bot = cfg.BotUserID()
	}
	if cfg.Search.Enabled || fs.Arg(0) == "reindex" {
		indexPath := filepath.Join(cfg.DataDir, "index")
		// Before opening: Bleve maps the files, and pages it has mapped
		// stay as they are (indexer/pagecache_linux.go).
		if err := indexer.DropFromPageCache(indexPath); err != nil {
			log.Warn("the search index's files could not be dropped from the page cache; more of them will be resident", "err", err)
		}
		ix, err := indexer.Open(st, indexPath, indexer.Options{Language: cfg.Search.Language}, log)
		if errors.Is(err, indexer.ErrLocked) {
			return fmt.Errorf("another archive-web (a running server, or a reindex) holds the search index %s: stop it first; "+
				"a server rebuilds a missing or old index by itself at start: %w", indexPath, err)
		}
		if err != nil {
			return err
		}
		defer ix.Close()
		if fs.Arg(0) == "reindex" {
			return reindex(ctx, ix, stderr, log)
		}
		opts.Search = ix
		opts.IndexPosition, opts.ReadyIndexLag = ix.Checkpoint, cfg.Web.ReadyIndexLag
		go func() {
			if err := ix.Follow(ctx); err != nil {
				log.Error("search indexing stopped", "err", err)
			}
		}()
	}
	var ropts render.Options
	if cfg.Media.Enabled {
		// The archiver's media store: its bucket, or its directory read
		// only (on another machine, the same directory mounted; README,
		// "Media").
		mo := media.Options{Dir: cfg.MediaDir(), ReadOnly: true}
		if s := cfg.Media.S3; s.Enabled() {
			mo.S3 = media.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
				Prefix: s.Prefix, Insecure: !s.UseSSL}
		}
		if opts.Media, err = media.Open(ctx, mo); err != nil {
			return err
		}
		ropts.MediaURL, ropts.ThumbnailURL = web.MediaPath, web.ThumbnailPath
	}
	if cfg.Metrics.Listen != "" {
		// A registry of our own: nothing registered by a library behind
		// our back, and tests can build servers side by side.
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		opts.Metrics = web.NewMetrics(reg, st, opts.IndexPosition)
		stop, err := metricslisten.Serve(cfg.Metrics.Listen, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	srv, err := web.New(st, render.New(ropts), log, opts)
	if err != nil {
		return err
	}
	// The first requests after start cost what the first pages cost, not
	// more; a failure here is the database's, which the pages report.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	if err := srv.Warm(wctx); err != nil {
		log.Warn("warming up", "err", err)
	} else if conns, err := srv.WarmPages(wctx); err != nil {
		log.Warn("warming up", "err", err)
	} else {
		log.Info("warmed up", "connections_with_page_reads", conns)
	}
	wcancel()
	starting.serve(srv)
	log.Info("archive-web serving", "url", "http://"+addr+"/", "database", st.Dialect())
	if ready != nil {
		ready <- addr
	}
	// Each room's via servers, which its first page would otherwise wait
	// for, computed while the first requests are served.
	vctx, vcancel := context.WithCancel(ctx)
	defer vcancel()
	go func() {
		if err := srv.WarmVia(vctx); err != nil && vctx.Err() == nil {
			log.Warn("computing via servers ahead", "err", err)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// heapFloor is the heap a serving archive-web lets grow before it
// collects, and takes from the system at start (gcpolicy.StartFloor,
// gcpolicy.Pretouch): what it holds anyway once its render cache is full,
// the cache's bound and gcpolicy.Headroom, but at most half the soft
// memory limit (web.memory_limit or GOMEMLIMIT; Go collects and returns
// memory near it).
func heapFloor(w config.Web, limit int64) uint64 {
	return uint64(max(min(max(w.CacheSize, 0)+gcpolicy.Headroom, limit/2), 0))
}

// memoryLimit is the soft memory limit archive-web sets: web.memory_limit,
// unless it is 0 or GOMEMLIMIT (which the runtime read at start) is set.
func memoryLimit(w config.Web, gomemlimit string) (int64, bool) {
	return w.MemoryLimit, w.MemoryLimit > 0 && gomemlimit == ""
}

// startingHandler answers while archive-web starts (it waits for its
// database, opens its index, warms up), then hands every request to the
// archive (serve): until then /healthz is 200, as the archive's is while
// the process lives, so that a liveness probe does not restart a replica
// for waiting (its body says "starting", where the archive's says "ok"),
// and everything else 503 with a Retry-After, /readyz too.
type startingHandler struct{ h atomic.Pointer[http.Handler] }

func (s *startingHandler) serve(h http.Handler) { s.h.Store(&h) }

func (s *startingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == "/healthz" {
		io.WriteString(w, "starting\n") // the archive's says "ok"
		return
	}
	w.Header().Set("Retry-After", "10")
	http.Error(w, "The archive is starting (its database does not answer yet, or it is warming up); try again shortly.", http.StatusServiceUnavailable)
}
