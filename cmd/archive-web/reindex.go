package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mxarchive/mxarchive/indexer"
)

// reindex rebuilds the search index beside the live one and swaps it in,
// showing progress on a terminal and logging it otherwise.
func reindex(ctx context.Context, ix *indexer.Indexer, stderr io.Writer, log *slog.Logger) error {
	start := time.Now()
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	last := time.Now()
	err := ix.Rebuild(ctx, func(pos int64, applied int) {
		switch {
		case tty:
			fmt.Fprintf(stderr, "\rreindexing: %d changes applied (feed position %d)   ", applied, pos)
		case time.Since(last) > 10*time.Second:
			last = time.Now()
			log.Info("reindex progress", "applied", applied, "position", pos)
		}
	})
	if tty {
		fmt.Fprintln(stderr)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("reindex interrupted: %w", err)
	}
	if err != nil {
		return err
	}
	n, _ := ix.DocCount()
	log.Info("search index rebuilt", "messages", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
