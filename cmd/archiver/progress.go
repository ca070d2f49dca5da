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
