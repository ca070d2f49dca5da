package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/retention"
)

// progress shows a long job's progress (import, backfill, purge): a line
// redrawn in place on a terminal, log lines otherwise.
type progress struct {
	w        io.Writer
	log      *slog.Logger
	terminal bool
	start    time.Time
	last     time.Time
	drawn    bool
	purged   int64 // events a purge deleted so far
}

func newProgress(w io.Writer, log *slog.Logger) *progress {
	p := &progress{w: w, log: log, start: time.Now(), last: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.terminal = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *progress) update(s ingest.Progress) {
	pct := 0.0
	if s.BytesTotal > 0 {
		pct = 100 * float64(s.BytesRead) / float64(s.BytesTotal)
	}
	phase := "reading room state"
	if s.Pass == 2 {
		phase = "importing events"
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s: %s %5.1f%% (%d events)   ", s.File, phase, pct, s.Events)
		p.drawn = true
		return
	}
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		p.log.Info("import progress", "file", s.File, "phase", phase, "percent", fmt.Sprintf("%.1f", pct), "events", s.Events)
	}
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// backfill shows a backfill's progress. /messages gives no total, so it
// counts events read, as a share of limit when archive.backfill_limit
// bounds it (0: to the room's creation, no share to show).
func (p *progress) backfill(room string, events, limit int) {
	share := ""
	pct := ""
	if limit > 0 {
		pct = fmt.Sprintf("%.1f", 100*float64(min(events, limit))/float64(limit))
		share = fmt.Sprintf(" %5s%% of %d,", pct, limit)
	}
	rate := float64(events) / max(time.Since(p.start).Seconds(), 0.001)
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s: backfilling:%s %d events read (%.0f/s)   ", room, share, events, rate)
		p.drawn = true
		return
	}
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		attrs := []any{"room_id", room, "events", events, "events_per_second", int(rate)}
		if pct != "" {
			attrs = append(attrs, "percent", pct, "limit", limit)
		}
		p.log.Info("backfill progress", attrs...)
	}
}

// purge shows a retention purge's progress, one batch at a time: each is a
// transaction that committed, so what it shows is deleted. The total is
// not known beforehand (counting would cost a scan per room), so it shows
// the running count and the batch's room. Unlike an import's, every batch
// is logged, as retention.Run logs them: a batch is PurgeBatch events
// (1000), so the lines stay few.
func (p *progress) purge(b retention.Batch) {
	p.purged += int64(b.Deleted)
	rate := float64(p.purged) / max(time.Since(p.start).Seconds(), 0.001)
	if p.terminal {
		fmt.Fprintf(p.w, "\rpurging expired events: %d deleted (%.0f/s), last batch %d in %s   ", p.purged, rate, b.Deleted, b.Room)
		p.drawn = true
		return
	}
	p.log.Info("retention purge batch", "room_id", b.Room, "deleted", b.Deleted, "deleted_so_far", p.purged)
}
