package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/config"
)

// quarantineCmd lists the events the database refused (store.Quarantined):
// as text for a terminal, or with --json one object per line whose "raw"
// is the event as received, so that
// `archiver quarantine --json | jq -c .raw > retry.ndjson` feeds
// `archiver import` once the cause is fixed.
func quarantineCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("quarantine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line, with the event's JSON as received")
	limit := fs.Int("limit", 1000, "list at most this many, the most recently refused first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *limit <= 0 {
		return fmt.Errorf("usage: archiver %s", quarantineUsage)
	}
	st, err := openArchive(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	q, err := st.Quarantined(ctx, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range q {
			row := struct {
				EventID  string          `json:"event_id"`
				RoomID   string          `json:"room_id"`
				Source   string          `json:"source"`
				Error    string          `json:"error"`
				FirstAt  time.Time       `json:"first_at"`
				LastAt   time.Time       `json:"last_at"`
				Attempts int             `json:"attempts"`
				Raw      json.RawMessage `json:"raw,omitempty"`
			}{string(e.EventID), string(e.RoomID), string(e.Source), e.Error, e.FirstAt, e.LastAt, e.Attempts, e.Raw}
			if err := enc.Encode(row); err != nil {
				return err
			}
		}
		return nil
	}
	if len(q) == 0 {
		_, err := fmt.Fprintln(stdout, "no quarantined events")
		return err
	}
	for _, e := range q {
		// The error is the database's text; one line per event.
		msg := strings.Join(strings.Fields(e.Error), " ")
		if _, err := fmt.Fprintf(stdout, "%s  %s  %s  from %s, refused %d time(s): %s\n",
			e.LastAt.Format(time.RFC3339), e.EventID, e.RoomID, e.Source, e.Attempts, msg); err != nil {
			return err
		}
	}
	return nil
}

const quarantineUsage = "quarantine [--json] [--limit N]"
