package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/store"
)

// logEntry is one operator log entry as `archiver log --json` prints it.
type logEntry struct {
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Command  string    `json:"command"`
	Target   string    `json:"target"`
	Reason   string    `json:"reason"`
	DryRun   bool      `json:"dry_run"`
	Affected int64     `json:"affected"`
}

// logCmd prints the operator log, newest first.
func logCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "", "only entries from this date (YYYY-MM-DD, UTC) or RFC 3339 time on")
	command := fs.String("command", "", "only this command (e.g. takedown)")
	target := fs.String("target", "", "only this target (room, event or user ID)")
	limit := fs.Int("limit", 1000, "at most this many entries")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("log: unexpected argument %q", fs.Arg(0))
	}
	if *limit <= 0 {
		return errors.New("log: --limit must be positive")
	}
	// A typo (hide-rom) would match nothing and print nothing, which reads
	// as "never run".
	if _, ok := operatorUsage[*command]; *command != "" && !ok {
		known := slices.Sorted(maps.Keys(operatorUsage))
		return fmt.Errorf("log: --command %q is no operator command: want one of %s", *command, strings.Join(known, ", "))
	}
	q := store.OperatorLogQuery{Command: *command, Target: *target, Limit: *limit}
	if *since != "" {
		t, err := time.Parse(time.DateOnly, *since)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, *since); err != nil {
				return fmt.Errorf("log: --since %q: want YYYY-MM-DD or an RFC 3339 time", *since)
			}
		}
		q.Since = t
	}
	st, err := openArchive(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if strings.HasPrefix(q.Target, "#") {
		// Room commands are logged by the room's ID. An alias that names
		// no room now (purge-room forgets them) is looked for as given.
		if room, err := resolveRoom(ctx, st, q.Target); err == nil {
			q.Target = string(room)
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("log: --target %s: %w", q.Target, err)
		}
	}
	entries, err := st.FindOperatorLog(ctx, q)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, a := range entries {
		if *asJSON {
			if err := enc.Encode(logEntry(a)); err != nil {
				return err
			}
			continue
		}
		dry := ""
		if a.DryRun {
			dry = " (dry run)"
		}
		// Quoted: a reason or target typed by anyone cannot start a
		// line of its own or hide in control characters.
		if _, err := fmt.Fprintf(stdout, "%s  %s  %s %s%s  affected %d  reason %s\n", a.At.Format(time.RFC3339), strconv.Quote(a.Actor),
			a.Command, strconv.Quote(a.Target), dry, a.Affected, strconv.Quote(a.Reason)); err != nil {
			return err
		}
	}
	return nil
}
