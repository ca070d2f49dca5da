// Command archive-bench measures mxarchive on realistic data, side by side
// with the systems people would use instead. run (what `make bench` runs)
// replays an input to a target size, imports it into SQLite and
// PostgreSQL, and measures import, appservice acks, search (against
// Synapse-style PostgreSQL full-text search, SQLite FTS5 and a linear
// scan), day pages, redaction propagation and memory, and prints a
// Markdown table (and writes JSON and an SVG chart). gen replays the IRC
// corpus as Matrix events; search measures search on an existing archive;
// load puts a running archive-web under concurrent clients (and a database
// outage).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

const usage = `Usage:
  archive-bench run [-scale EVENTS] [-input FILE] [-db sqlite,postgres] [-o DIR] [flags]
  archive-bench gen [-corpus DIR] [-shape SHAPE] [-n EVENTS] [-o FILE]
  archive-bench search [-c config.yaml] [-runs N]
  archive-bench load [-scale EVENTS] [-db sqlite|postgres] [-clients N] [-duration D] [-outage] [flags]

run is the whole benchmark (archive-bench run -h lists its flags). It needs
the archive-web binary beside it (make build) and PostgreSQL: a server
named by -postgres or MXARCHIVE_BENCH_POSTGRES, else a private cluster
started from the system's binaries.

gen replays the IRC corpus (real text, nicks and reply structure) as Matrix
events with shifted rooms, timestamps and event IDs, until -n events are
written. -shape rearranges it: skewed (three busy rooms, many sparse ones),
bursty (busy months, empty years), markdown (long Markdown messages). Output is deterministic: the same flags give the same bytes.

load puts a running archive-web under -clients concurrent clients for
-duration: day pages, permalinks, search (the most expensive query shapes
the parser accepts), the API, text logs and sitemaps, with a hostile room
added to the dataset (huge messages full of links and NULs, deeply nested
HTML, many reactions, a squatted alias). It reports requests/s, p50/p99
and errors per route and archive-web's peak RSS; with -outage (PostgreSQL)
it stops the database for the middle third of the run and reports the
answers meanwhile (503 with Retry-After expected) and the recovery.
Results go to bench-results/load.{md,json}.

search measures search latency (p50/p99) over a fixed query mix, in every
sort order, on the archive the configuration names (import gen's output
first), and the index size per message.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archive-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "search" {
		return searchBench(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "load" {
		return benchLoad(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "run" {
		return benchRun(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "gen" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown or missing command")
	}
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpusDir := fs.String("corpus", "", "the ubuntu-irc corpus directory (default: $"+corpus.EnvDir+", else ubuntu-irc in the shared corpus beside the repository, else its bundled sample)")
	n := fs.Int("n", 100_000, "number of events to write")
	shape := fs.String("shape", corpus.ShapeUbuntu, "how the corpus is replayed: "+strings.Join(corpus.Shapes, ", "))
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *corpusDir == "" {
		dir, _, err := corpus.Dir()
		if err != nil {
			return err
		}
		*corpusDir = dir
	}
	logs, err := corpus.Read(*corpusDir)
	if err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	written, err := corpus.GenerateShape(bw, logs, *n, *shape)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d events from %d corpus messages\n", written, corpus.CountMessages(logs))
	return nil
}
