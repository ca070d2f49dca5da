package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"

	"github.com/mxarchive/mxarchive/ingest"
)

// progress shows a long import's progress: a line redrawn in place on a
// terminal, a log line every ten seconds otherwise.
type progress struct {
	w        io.Writer
	log      *slog.Logger
	terminal bool
	start    time.Time
	last     time.Time
	drawn    bool
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
