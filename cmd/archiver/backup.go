package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/store"
)

// backupCmd copies a SQLite archive to one new file, online.
func backupCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		return errors.New("backup: name one new file to write, e.g. archiver backup /var/backups/mxarchive-$(date +%F).db")
	}
	// As it is: opening it as a store would migrate it first.
	if err := store.BackupAsIs(ctx, store.Config(cfg.Database), cfg.DataDir, args[0]); err != nil {
		return err
	}
	log.Info("backup written", "file", args[0])
	_, err := fmt.Fprintf(stdout, "backup written to %s\n", args[0])
	return err
}
