package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
)

// A backfill knows no byte total: its progress used to read "0.0%" from
// start to end. It shows the events read (and the share of
// archive.backfill_limit when there is one), on a terminal and in the log.
func TestBackfillProgressShowsEvents(t *testing.T) {
	var term bytes.Buffer
	p := &progress{w: &term, log: slog.New(slog.DiscardHandler), terminal: true, start: time.Now(), last: time.Now()}
	p.backfill("!r:example.org", 1200, 0)
	if got := term.String(); strings.Contains(got, "0.0%") || !strings.Contains(got, "1200 events") || !strings.Contains(got, "!r:example.org") {
		t.Errorf("backfill to creation: %q, want the events read and no percentage", got)
	}
	term.Reset()
	p.backfill("!r:example.org", 250, 1000)
	if got := term.String(); !strings.Contains(got, "25.0%") || !strings.Contains(got, "250 events") {
		t.Errorf("backfill bounded to 1000: %q, want 25.0%%", got)
	}
	term.Reset()
	p.update(ingest.Progress{File: "x.ndjson", Pass: 2, BytesRead: 50, BytesTotal: 200, Events: 7})
	if got := term.String(); !strings.Contains(got, "25.0%") {
		t.Errorf("import progress: %q", got)
	}

	var logged bytes.Buffer
	p = &progress{w: &bytes.Buffer{}, log: slog.New(slog.NewTextHandler(&logged, nil)), start: time.Now(), last: time.Now().Add(-time.Minute)}
	p.backfill("!r:example.org", 300, 0)
	if got := logged.String(); !strings.Contains(got, "events=300") || !strings.Contains(got, "room_id=!r:example.org") || strings.Contains(got, "percent=0.0") {
		t.Errorf("backfill progress in the log: %q", got)
	}
}
