package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/store"
)

// migrateToCmd copies the configured SQLite archive into an empty
// PostgreSQL database (store.CopyTo), then says how to switch over.
func migrateToCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 || !(strings.HasPrefix(args[0], "postgres://") || strings.HasPrefix(args[0], "postgresql://")) {
		return errors.New("migrate-to: name the empty PostgreSQL database to move the archive into, e.g. archiver migrate-to postgres://mxarchive@localhost/mxarchive")
	}
	switch cfg.Database.Type {
	case "", "sqlite", "sqlite3":
	default:
		return fmt.Errorf("migrate-to: the configured archive is already on %s; migrate-to moves a SQLite archive", cfg.Database.Type)
	}
	src, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer src.Close()
	target := cfg
	target.Database.Type = "postgres"
	target.Database.URI = args[0]
	// Opening the target creates the schema in it (the same migrations).
	dst, err := openStore(ctx, target, log)
	if err != nil {
		return fmt.Errorf("migrate-to: %w", err)
	}
	defer dst.Close()

	prog := newProgress(stderr, log)
	start := time.Now()
	report, err := src.CopyTo(ctx, dst, prog.copy)
	prog.done()
	if errors.Is(err, store.ErrArchiverRunning) {
		return fmt.Errorf("migrate-to: %w; stop it first (systemctl stop mxarchive-archiver): writes during the move would be lost", err)
	}
	if err != nil {
		return fmt.Errorf("migrate-to: %w", err)
	}
	var rows int64
	for _, tc := range report {
		fmt.Fprintf(stdout, "%-16s %10d rows\n", tc.Table, tc.Copied)
		rows += tc.Copied
	}
	fmt.Fprintf(stdout, "copied %d rows of %d tables in %s; the counts match.\n", rows, len(report), time.Since(start).Round(time.Millisecond))
	fmt.Fprintln(stdout, "Now set database.type: postgres and database.uri in the configuration of both programs and start them;")
	fmt.Fprintln(stdout, "change-feed positions are kept; archive-web rebuilds its search index on its first start against PostgreSQL "+
		"(search answers 503 until then; `archive-web reindex` does it ahead). Keep the SQLite file until you have checked.")
	log.Info("archive moved to postgres", "tables", len(report), "rows", rows)
	return nil
}

// copy shows a CopyTo's progress: the table and its share.
func (p *progress) copy(c store.CopyProgress) {
	pct := 100.0
	if c.Total > 0 {
		pct = 100 * float64(c.Copied) / float64(c.Total)
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\rtable %d/%d %s: %5.1f%% (%d of %d rows)          ", c.TableIndex, c.Tables, c.Table, pct, c.Copied, c.Total)
		p.drawn = true
		return
	}
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		p.log.Info("migrate progress", "table", c.Table, "tables_done", c.TableIndex-1, "tables", c.Tables,
			"rows", c.Copied, "rows_total", c.Total, "percent", fmt.Sprintf("%.1f", pct))
	}
}
