package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/retention"
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

// `archiver retention` used to print only its totals at the end: a long
// purge showed nothing while it ran. Each batch it commits now shows, as a
// log line when stderr is not a terminal.
func TestRetentionShowsPurgeProgress(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXARCHIVE_DATA_DIR", dir)
	t.Setenv("MXARCHIVE_RETENTION_DEFAULT_MAX_LIFETIME", "30d")
	const room = "!old:example.org"
	const t0 = 1577836800000 // 2020-01-01: long expired
	lines := []string{
		fmt.Sprintf(`{"event_id":"$c","room_id":%q,"type":"m.room.create","sender":"@a:example.org","origin_server_ts":%d,"state_key":"","content":{"room_version":"10"}}`, room, t0),
		fmt.Sprintf(`{"event_id":"$hv","room_id":%q,"type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":%d,"state_key":"","content":{"history_visibility":"world_readable"}}`, room, t0+1),
	}
	const messages = 2100 // two full batches of 1000 and a part, the latest kept
	for i := range messages {
		lines = append(lines, fmt.Sprintf(`{"event_id":"$m%d","room_id":%q,"type":"m.room.message","sender":"@a:example.org","origin_server_ts":%d,"content":{"msgtype":"m.text","body":"old %d"}}`, i, room, t0+10+int64(i), i))
	}
	file := filepath.Join(dir, "old.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out, errs bytes.Buffer
	if err := run(ctx, []string{"import", file}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errs.Reset()
	if err := run(ctx, []string{"retention"}, &out, &errs); err != nil {
		t.Fatalf("retention: %v\n%s", err, errs.String())
	}
	if !strings.Contains(out.String(), "2099 expired events deleted") {
		t.Errorf("summary %q", out.String())
	}
	var batches []string
	for _, l := range strings.Split(errs.String(), "\n") {
		if strings.Contains(l, "retention purge batch") {
			batches = append(batches, l)
		}
	}
	want := []string{"deleted=1000 deleted_so_far=1000", "deleted=1000 deleted_so_far=2000", "deleted=99 deleted_so_far=2099"}
	if len(batches) != len(want) {
		t.Fatalf("%d batch lines, want %d:\n%s", len(batches), len(want), errs.String())
	}
	for i, l := range batches {
		if !strings.Contains(l, "room_id="+room) || !strings.Contains(l, want[i]) {
			t.Errorf("batch %d: %q, want room_id and %q", i, l, want[i])
		}
	}
}

// On a terminal, the purge redraws one line per batch with the running
// total, and ends it when done.
func TestPurgeProgressOnATerminal(t *testing.T) {
	var term bytes.Buffer
	p := &progress{w: &term, log: slog.New(slog.DiscardHandler), terminal: true, start: time.Now(), last: time.Now()}
	p.purge(retention.Batch{Room: "!r:example.org", Deleted: 1000})
	p.purge(retention.Batch{Room: "!s:example.org", Deleted: 20})
	p.done()
	got := term.String()
	if strings.Count(got, "\r") != 2 || !strings.Contains(got, "1000 deleted") || !strings.Contains(got, "1020 deleted") ||
		!strings.Contains(got, "!s:example.org") || !strings.HasSuffix(got, "\n") {
		t.Errorf("terminal output %q", got)
	}
}
