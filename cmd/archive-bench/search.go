package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/gcpolicy"
	"github.com/mxarchive/mxarchive/store"
)

// searchBench measures search latency over a fixed query mix on an archive
// (the one the configuration names), each query class in every sort order,
// and prints p50/p99 per class and the index size per message.
func searchBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("search", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "archive configuration (default: built-in defaults and MXARCHIVE_* variables)")
	runs := fs.Int("runs", 200, "runs of each query class and sort")
	only := fs.String("class", "", "run only the query classes whose name contains this")
	onlySort := fs.String("sort", "", "run only this sort order (relevance, newest or oldest; default: all three), so a profile shows one")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the searches to this file")
	memProfile := fs.String("memprofile", "", "write a profile of what the searches allocated to this file (go tool pprof -sample_index=alloc_space)")
	clients := fs.Int("clients", 10, "then run the whole mix with this many clients at once (0: don't)")
	clientTime := fs.Duration("concurrent-time", 10*time.Second, "how long the concurrent run lasts")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := store.Open(ctx, store.Config(cfg.Database), cfg.DataDir, log,
		store.Options{Retention: cfg.Retention, ShowFormerlyPublic: cfg.Archive.ShowFormerlyPublic})
	if err != nil {
		return err
	}
	defer st.Close()
	indexPath := filepath.Join(cfg.DataDir, "index")
	ix, err := indexer.Open(st, indexPath, indexer.Options{Language: cfg.Search.Language}, log)
	if err != nil {
		return err
	}
	defer ix.Close()
	start := time.Now()
	if n, err := ix.CatchUp(ctx, nil); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(stdout, "indexed %d changes in %s\n", n, time.Since(start).Round(time.Millisecond))
	}
	// Measuring while the index merges its segments measures the merges.
	settle(indexPath, 5*time.Second, 15*time.Minute)
	docs, _ := ix.DocCount()
	size := dirSize(indexPath)
	// A room, sender and day that exist, for the filter classes.
	t := ubuntuTerms
	probe, err := ix.Search(ctx, indexer.Request{Query: indexer.Query{Words: []string{t.term}}, Size: 1})
	if err != nil || len(probe.Events) == 0 {
		return fmt.Errorf("probe search found nothing (%v); is this the corpus replay?", err)
	}
	t.room, t.sender = string(probe.Events[0].RoomID), string(probe.Events[0].Sender)
	t.day = time.UnixMilli(probe.Events[0].OriginTS).UTC()
	var classes []queryClass
	parsed := map[string]indexer.Query{}
	for _, c := range t.classes() {
		if !strings.Contains(c.Name, *only) {
			continue
		}
		q, err := indexer.ParseQuery(c.Ours)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		classes, parsed[c.Name] = append(classes, c), q
	}
	fmt.Fprintf(stdout, "%d messages indexed, index %.1f MiB (%.0f bytes/message); %d runs per cell\n\n",
		docs, float64(size)/(1<<20), float64(size)/float64(max(docs, 1)), *runs)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		// Only what the searches allocate: opening the index and the
		// store is not counted.
		runtime.GC()
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}()
	}
	orders := []string{indexer.SortRelevance, indexer.SortNewest, indexer.SortOldest}
	if *onlySort != "" {
		if !slices.Contains(orders, *onlySort) {
			return fmt.Errorf("-sort %q: want one of %s", *onlySort, strings.Join(orders, ", "))
		}
		orders = []string{*onlySort}
	}
	// Collected as archive-web is.
	defer gcpolicy.Start(time.Second)()
	// The results column is the index's estimate of all matches.
	cells, tp, err := measureSearch(ctx, budget{runs: *runs, minRuns: *runs}, *clients, *clientTime, classes, orders,
		func(ctx context.Context, c queryClass, sort string) (int, error) {
			res, err := ix.Search(ctx, indexer.Request{Query: parsed[c.Name], Sort: sort, Size: pageSize})
			return int(res.IndexEstimate), err
		})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query class\tsort\tresults\tp50 ms\tp99 ms\t")
	for _, c := range cells {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.2f\t\n", c.Class, c.Sort, c.Results, c.P50, c.P99)
	}
	if err := tw.Flush(); err != nil || tp.Ops == 0 {
		return err
	}
	_, err = fmt.Fprintf(stdout, "\n%d clients at once, the whole mix for %s: %.0f searches/s, p50 %.2f ms, p99 %.2f ms\n",
		tp.Clients, *clientTime, tp.PerSec, tp.P50, tp.P99)
	return err
}

// dirSize is the bytes of the files under dir, which may be a symbolic
// link to a directory (an index kept elsewhere and linked into a data
// directory: filepath.Walk does not follow a root that is a link, and
// counted the link alone).
func dirSize(dir string) int64 {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	var n int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
