// Command archive-bench measures mxarchive on realistic data. gen replays
// the IRC corpus in ../shared/corpus as Matrix events (newline-delimited
// JSON, the format `archiver import` reads) at any scale; time `archiver
// import` on its output to measure import. search measures search latency
// on the resulting archive.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mxarchive/mxarchive/internal/corpus"
)

const usage = `Usage:
  archive-bench gen [-corpus DIR] [-n EVENTS] [-o FILE]
  archive-bench search [-c config.yaml] [-runs N]

gen replays the IRC corpus (real text, nicks and reply structure) as Matrix
events with shifted rooms, timestamps and event IDs, until -n events are
written. Output is deterministic: the same flags give the same bytes.

search measures search latency (p50/p99) over a fixed query mix, in every
sort order, on the archive the configuration names (import gen's output
first), and the index size per message.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archive-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "search" {
		return searchBench(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "gen" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown or missing command")
	}
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpusDir := fs.String("corpus", "../shared/corpus/ubuntu-irc", "the ubuntu-irc corpus directory")
	n := fs.Int("n", 100_000, "number of events to write")
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
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
	written, err := corpus.Generate(bw, logs, *n)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d events from %d corpus messages\n", written, corpus.CountMessages(logs))
	return nil
}
