// Command archive-bench measures mxarchive on realistic data. Today it has
// one subcommand, gen, which replays the IRC corpus in ../shared/corpus as
// Matrix events (newline-delimited JSON, the format `archiver import` reads)
// at any scale; time `archiver import` on its output to measure import.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `Usage: archive-bench gen [-corpus DIR] [-n EVENTS] [-o FILE]

gen replays the IRC corpus (real text, nicks and reply structure) as Matrix
events with shifted rooms, timestamps and event IDs, until -n events are
written. Output is deterministic: the same flags give the same bytes.
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archive-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "gen" {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown or missing command")
	}
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpus := fs.String("corpus", "../shared/corpus/ubuntu-irc", "the ubuntu-irc corpus directory")
	n := fs.Int("n", 100_000, "number of events to write")
	out := fs.String("o", "-", "output file (- for standard output)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	logs, err := readCorpus(*corpus)
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
	written, err := generate(bw, logs, *n)
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d events from %d corpus messages\n", written, countMessages(logs))
	return nil
}
