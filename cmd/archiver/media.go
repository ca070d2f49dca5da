package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"
	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/store"
)

// openMedia opens the media store the configuration names: media.s3's
// bucket, or the media directory.
func openMedia(ctx context.Context, cfg config.Config) (media.Blobs, error) {
	s := cfg.Media.S3
	o := media.Options{Dir: cfg.MediaDir()}
	if s.Enabled() {
		// Downloads are spooled beside the database while hashed, not in a
		// system /tmp that may be a small tmpfs.
		o.S3 = media.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKey: s.AccessKey, SecretKey: s.SecretKey,
			Prefix: s.Prefix, Insecure: !s.UseSSL, TempDir: cfg.DataDir}
	}
	return media.Open(ctx, o)
}

// newFetcher wires the media fetcher from the configuration.
func newFetcher(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) (*media.Fetcher, error) {
	blobs, err := openMedia(ctx, cfg)
	if err != nil {
		return nil, err
	}
	f, err := media.NewFetcher(st, blobs, cfg.Homeserver.Address, cfg.Appservice.ASToken, id.UserID(cfg.BotUserID()), log)
	if err != nil {
		return nil, err
	}
	f.MaxSize, f.Concurrency, f.MaxTotal = cfg.Media.MaxSize, cfg.Media.Concurrency, cfg.Media.MaxTotal
	return f, nil
}

// collectMedia deletes the bytes an operator command left without a
// reference, so that a takedown or erasure run while the archiver is
// stopped leaves no copy on disk either.
func collectMedia(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) error {
	if !cfg.Media.Enabled {
		return nil
	}
	blobs, err := openMedia(ctx, cfg)
	if err != nil {
		return err
	}
	// Only Collect is used: no homeserver address is needed for it.
	f, err := media.NewFetcher(st, blobs, "http://unused.invalid", "", "", log)
	if err != nil {
		return err
	}
	n, err := f.Collect(ctx)
	if n > 0 {
		log.Info("media: deleted bytes no event refers to", "blobs", n)
	}
	return err
}

// mediaCmd: `archiver media fetch [--room ROOM]` fetches every queued
// media file now (retrying those that failed), with progress;
// `archiver media stats` counts the media store.
func mediaCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "fetch" && args[0] != "stats") {
		return errors.New("usage: archiver media fetch [--room ROOM] | archiver media stats")
	}
	fs := flag.NewFlagSet("media "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	room := fs.String("room", "", "only this room's media (default: all)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "stats" {
		s, err := st.MediaStats(ctx)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(stdout, "%d media URIs in %d files, %d bytes; %d queued, %d given up\n", s.URIs, s.Blobs, s.Bytes, s.Queued, s.GaveUp); err != nil {
			return err
		}
		if cfg.Media.MaxTotal > 0 {
			_, err = fmt.Fprintf(stdout, "quota: %d of %d bytes used (%.1f%%); %d waiting for space\n",
				s.Bytes, cfg.Media.MaxTotal, 100*float64(s.Bytes)/float64(cfg.Media.MaxTotal), s.Quota)
		} else {
			_, err = fmt.Fprintf(stdout, "quota: none (media.max_total 0); %d bytes used\n", s.Bytes)
		}
		return err
	}
	if !cfg.Media.Enabled {
		return errors.New("media.enabled is false: nothing is fetched")
	}
	if err := cfg.CheckAppservice(); err != nil {
		return err
	}
	f, err := newFetcher(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	terminal := false
	if file, ok := stderr.(*os.File); ok {
		terminal = term.IsTerminal(int(file.Fd()))
	}
	last := time.Now()
	s, err := f.Drain(ctx, id.RoomID(*room), func(done, total int64) {
		if terminal {
			fmt.Fprintf(stderr, "\rfetching media: %d of %d   ", done, total)
		} else if time.Since(last) >= 10*time.Second {
			last = time.Now()
			log.Info("media fetch progress", "done", done, "total", total)
		}
	})
	if terminal {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%d media URIs in %d files, %d bytes; %d still queued (retried later), %d given up\n",
		s.URIs, s.Blobs, s.Bytes, s.Queued, s.GaveUp)
	return err
}
