package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/metricslisten"
	"github.com/mxarchive/mxarchive/media"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// archiver is the wired appservice: store, ingester, homeserver client and
// room manager.
type archiver struct {
	st      *store.Store
	in      *ingest.Ingester
	manager *ingest.Manager
	aliases *ingest.AliasVerifier
	bot     id.UserID
}

// notifiers passes committed events to each of its notifiers in turn.
type notifiers []ingest.Notifier

func (ns notifiers) Committed(ctx context.Context, evs []*event.Event) error {
	for _, n := range ns {
		if err := n.Committed(ctx, evs); err != nil {
			return err
		}
	}
	return nil
}

func newArchiver(ctx context.Context, cfg config.Config, log *slog.Logger, service bool) (*archiver, error) {
	if err := cfg.CheckAppservice(); err != nil {
		return nil, err
	}
	bot := id.UserID(cfg.BotUserID())
	open := store.Open
	if service {
		// `run` waits for a database that does not answer yet.
		open = store.OpenWaiting
	}
	st, err := open(ctx, store.Config(cfg.Database), cfg.DataDir, log, storeOptions(cfg, bot))
	if err != nil {
		return nil, err
	}
	in := ingest.New(st, log, bot)
	in.SetIRCBridges(cfg.IRC.Bridges)
	client, err := ingest.NewClient(cfg.Homeserver.Address, cfg.Appservice.ASToken, bot)
	if err != nil {
		st.Close()
		return nil, err
	}
	mgr := ingest.NewManager(ingest.ManagerConfig{
		Join:                cfg.Archive.Join,
		AllowRooms:          cfg.Archive.AllowRooms,
		DenyRooms:           cfg.Archive.DenyRooms,
		AllowServers:        cfg.Archive.AllowServers,
		DenyServers:         cfg.Archive.DenyServers,
		BackfillLimit:       cfg.Archive.BackfillLimit,
		BackfillMaxBytes:    cfg.Archive.BackfillMaxBytes,
		BackfillRetry:       cfg.Archive.BackfillRetry,
		LeaveNonPublicAfter: cfg.Archive.LeaveNonPublicAfter,
		SweepInterval:       cfg.Archive.SweepInterval,
		OptInWait:           cfg.Archive.OptInWait,
		SpoolDir:            filepath.Join(cfg.DataDir, "spool"),
	}, client, in, st, bot, log)
	return &archiver{st: st, in: in, manager: mgr, aliases: ingest.NewAliasVerifier(client, st, log, 0), bot: bot}, nil
}

// runCmd runs the application service until ctx ends.
func runCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	a, err := newArchiver(ctx, cfg, log, true)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while it waited for the database: a stop
		}
		return err
	}
	defer a.st.Close()
	// Two archivers on one database would both acknowledge transactions
	// and sweep and backfill the same rooms: the second refuses to start.
	lock, err := a.st.LockArchiver(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err := lock.Release(); err != nil {
			log.Warn("releasing the archiver lock", "err", err)
		}
	}()
	var fetcher *media.Fetcher
	if cfg.Media.Enabled {
		if fetcher, err = newFetcher(ctx, cfg, a.st, log); err != nil {
			return err
		}
	}
	var purgeObs retention.Observer
	if cfg.Metrics.ArchiverListen != "" {
		reg := archiverMetrics(a.st, a.in, fetcher)
		purgeObs = purgeMetrics(reg)
		stop, err := metricslisten.Serve(cfg.Metrics.ArchiverListen, reg, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	as := ingest.NewAppService(a.in, cfg.Appservice.HSToken, notifiers{a.manager, a.aliases}, log)
	ln, err := net.Listen("tcp", cfg.Appservice.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Appservice.Listen, err)
	}
	probes := newHealth(a.st, cfg.Homeserver.Address, 30*time.Second, log)
	probes.lockHeld = lock.Held
	srv := &http.Server{
		// /healthz and /readyz beside the homeserver's API, for probes.
		Handler:           probes.wrap(as.Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		// Long enough for a large transaction on a slow disk; the homeserver
		// gives up at 30–60 s and resends, which is harmless.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 2 * time.Minute,
	}
	log.Info("archiver listening for the homeserver", "listen", ln.Addr().String(), "bot", a.bot,
		"homeserver", cfg.Homeserver.Address, "database", a.st.Dialect())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- a.manager.Run(ctx) }()
	go a.aliases.Run(ctx)
	// Waited for below, so that it never uses the store once closed.
	named := make(chan struct{})
	go func() {
		defer close(named)
		nameArchivedPuppets(ctx, a.st, cfg.IRC.Bridges, log)
	}()
	if cfg.Retention.Enabled {
		go retention.Run(ctx, a.st, cfg.Retention.PurgeInterval, log, purgeObs)
	}
	if fetcher != nil {
		// Downloads run beside the appservice, never inside a transaction:
		// the store queued them with the events.
		go func() {
			if err := fetcher.Run(ctx); err != nil {
				log.Error("media fetcher stopped", "err", err)
			}
		}()
	}
	select {
	case err = <-errc:
		cancel()
	case <-lock.Taken():
		// Its session ended (a server restart) and another archiver
		// took the lock before this one could take it again: the store
		// writes nothing more, and this one stops.
		err = errors.New("another archiver took the archiver lock while this one's PostgreSQL session was gone; stopping so that two archivers never run at once")
		cancel()
	case <-ctx.Done():
	}
	shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if serr := srv.Shutdown(shutdown); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("shutting down the listener", "err", serr)
	}
	<-named
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// backfillCmd reads history of one room, or of every room the bot is in.
func backfillCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	room := fs.String("room", "", "room ID to backfill (default: every room the bot is in)")
	limit := fs.Int("limit", -1, "events to read per room (default: archive.backfill_limit; 0 = to creation)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *limit >= 0 {
		cfg.Archive.BackfillLimit = *limit
	}
	a, err := newArchiver(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer a.st.Close()
	rooms := []id.RoomID{id.RoomID(*room)}
	if *room == "" {
		if rooms, err = a.st.JoinedRooms(ctx); err != nil {
			return err
		}
		if len(rooms) == 0 {
			return errors.New("backfill: the bot is in no room yet; invite it, or name a room with --room")
		}
	}
	prog := newProgress(stderr, log)
	for _, r := range rooms {
		prog.start = time.Now()
		rep, err := a.manager.Backfill(ctx, r, func(n int) {
			prog.backfill(string(r), n, cfg.Archive.BackfillLimit)
		})
		prog.done()
		if err != nil {
			return err
		}
		end := ""
		switch {
		case rep.ReachedCreate:
			end = "; reached the room's creation"
		case rep.Bounded:
			end = "; stopped at archive.backfill_limit or archive.backfill_max_bytes: older history is not archived"
		}
		fmt.Fprintf(stdout, "%s: read %d events (%d bytes) in %d pages; %d stored, %d already archived, %d not public%s\n",
			r, rep.Events, rep.Bytes, rep.Pages, rep.Import.Stored, rep.Import.Duplicates, rep.Import.NotPublic, end)
	}
	return nil
}
