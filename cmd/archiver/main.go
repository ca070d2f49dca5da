// Command archiver is mxarchive's only writer: it records public Matrix rooms
// into the archive. This file wires configuration, logging and the store to
// the subcommands; the work itself lives in package ingest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

const usage = `Usage: archiver [-c config.yaml] [COMMAND [ARGS]]

Commands:
  run (the default)
        Run the application service: receive the homeserver's transactions,
        join rooms the bot is invited to, backfill and follow them.
  init [-o DIR] [--force]
        Write a commented config.yaml and a registration.yaml for the
        homeserver, with fresh tokens and any values set in the environment.
  backfill [--room ROOM] [--limit N]
        Read history of one room (or every room the bot is in) from the
        homeserver into the archive.
  import [--format ndjson|element] [--assume-world-readable] FILE...
        Import Matrix events: newline-delimited JSON as /messages returns
        them, or Element's "Export chat" JSON, or its ZIP with attachments
        (put into the media store). Importing twice changes nothing.
  import --network NAME --channel '#chan' (--room ROOM | --new-room '#name:server')
         [--successor ROOM] [--tz ZONE] [--date YYYY-MM-DD] [--server NAME] LOGFILE...
        Import IRC logs (Limnoria/Supybot, irssi, WeeChat, HexChat/XChat,
        ZNC, plain "[HH:MM] <nick> text"; recognised by content) into an
        archived room, before its own history, or into a new room made for
        a channel that never moved (--successor links it to the Matrix room
        it moved to, like a room upgrade). You vouch that it was public.
        import's flags apply to every file, before or after the files.
  media fetch [--room ROOM] | media stats
        Fetch every queued media file now, retrying failed ones, with
        progress (the archiver also fetches continuously); count the media
        store.
  config
        Print the effective configuration (secrets hidden).
  status [--json]
        Per room: recording, hidden (and why), left, banned or not public;
        last event; history complete or from when; backfill; pending media.
  log [--since DATE] [--command CMD] [--target ID] [--limit N] [--json]
        Print the operator log (who ran which operator command, when and
        why), newest first.
  backup FILE
        Write a consistent copy of a SQLite archive to FILE while the
        archiver runs (never overwrites). PostgreSQL: use pg_dump.
  migrate-to postgres://USER@HOST/DB
        Move a SQLite archive into an empty PostgreSQL database, keeping
        everything (event IDs, change-feed positions, redactions, opt-outs,
        takedowns, the operator log, sync and media state); stop the
        archiver first. Counts are checked per table.
  quarantine [--json] [--limit N]
        List the events the database refused to store, kept aside with its
        error instead of failing their batch; --json prints each with the
        event as received ("raw"), which archiver import can read again.

Operator commands (each logged with who ran it and when; --dry-run says
what would change; --by NAME names who runs it, default the system user):
  hide-room ROOM [--reason TEXT]   hide a room (keeps recording); show-room ROOM undoes it
  purge-room ROOM                  delete everything of a room and stop recording it
  takedown EVENT --reason TEXT     remove one message's content, shown with the reason
  erase-user @user:server          delete every message of a user, and opt them out
  optout @user:server, optin @user:server
                                   hide (or show again) a user's messages, past and future
  optout --irc NICK --room ROOM    the same for an IRC nick whose logs were imported
                                   into ROOM (also optin, erase-user)
  retention                        delete expired messages now (the archiver also does
                                   it every retention.purge_interval)

Every configuration key can be set by an environment variable
MXARCHIVE_<SECTION>_<KEY>, e.g. MXARCHIVE_DATABASE_URI; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "archiver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("archiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	cfgPath := fs.String("c", "", "configuration file (default: built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, os.Environ())
	if err != nil {
		return err
	}
	log := cfg.Log.NewLogger(stderr)
	cmd, rest := "run", []string(nil)
	if fs.NArg() > 0 {
		cmd, rest = fs.Arg(0), fs.Args()[1:]
	}
	switch cmd {
	case "run":
		return runCmd(ctx, cfg, log, rest, stderr)
	case "init":
		return initCmd(cfg, rest, stdout, stderr)
	case "backfill":
		return backfillCmd(ctx, cfg, log, rest, stdout, stderr)
	case "import":
		return importCmd(ctx, cfg, log, rest, stdout, stderr)
	case "config":
		_, err := fmt.Fprint(stdout, cfg.Redacted())
		return err
	case "status":
		return statusCmd(ctx, cfg, log, rest, stdout, stderr)
	case "log":
		return logCmd(ctx, cfg, log, rest, stdout, stderr)
	case "backup":
		return backupCmd(ctx, cfg, log, rest, stdout)
	case "migrate-to":
		return migrateToCmd(ctx, cfg, log, rest, stdout, stderr)
	case "quarantine":
		return quarantineCmd(ctx, cfg, log, rest, stdout, stderr)
	case "media":
		return mediaCmd(ctx, cfg, log, rest, stdout, stderr)
	case "hide-room", "show-room", "purge-room", "takedown", "erase-user", "optout", "optin", "retention":
		return operatorCmd(ctx, cfg, log, cmd, rest, stdout, stderr)
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	return store.Open(ctx, store.Config(cfg.Database), cfg.DataDir, log, storeOptions(cfg, ""))
}

// openArchive is openStore for a command that only reads the archive
// (status, log, quarantine): on SQLite it refuses a database file that is
// not there (store.Options.MustExist) rather than create an empty archive
// where a mistaken data_dir points, and answer that it holds nothing.
func openArchive(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	opts := storeOptions(cfg, "")
	opts.MustExist = true
	return store.Open(ctx, store.Config(cfg.Database), cfg.DataDir, log, opts)
}

// storeOptions are the store's options from the configuration. bot is the
// archive bot for the commands that record its membership (run, backfill);
// the others leave it empty.
func storeOptions(cfg config.Config, bot id.UserID) store.Options {
	return store.Options{Bot: bot, Retention: cfg.Retention, ShowFormerlyPublic: cfg.Archive.ShowFormerlyPublic}
}

func importCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "ndjson, element or irc:FORMAT (limnoria, irssi, weechat, hexchat, znc, plain; default: detected from the file)")
	assume := fs.Bool("assume-world-readable", false, "treat rooms whose history visibility the file does not state as world-readable (you vouch for it)")
	batch := fs.Int("batch", 0, fmt.Sprintf("most events per database transaction, fewer when their JSON reaches %d MiB (default %d on SQLite, where each holds the write lock while it is written; %d on PostgreSQL)",
		ingest.DefaultBatchBytes>>20, ingest.DefaultBatchSize, ingest.PostgresBatchSize))
	var ircf ircFlags
	ircf.register(fs)
	// A flag after the files applies to them all, as to an operator
	// command: taken for a file name, it left the files before it imported
	// without it, at the wrong instants for good (--tz).
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("import: name at least one file")
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	ircOpts, err := ircf.options(ctx, cfg, st)
	if err != nil {
		return err
	}
	if ircOpts != nil && !ircOpts.Date.IsZero() {
		// --date is the day of one log's lines: given to several logs
		// without a date in their names, it would put all their lines on
		// that one day.
		var dateless []string
		for _, path := range files {
			if _, ok := irclog.DateFromName(path); !ok {
				dateless = append(dateless, filepath.Base(path))
			}
		}
		if n := len(dateless); n > 1 {
			if n > 3 {
				dateless = append(dateless[:3], "…")
			}
			return fmt.Errorf("import: --date gives one day, and %d files carry no date in their names (%s): import each with its own --date, or name them YYYY-MM-DD",
				n, strings.Join(dateless, ", "))
		}
	}
	in := ingest.New(st, log, "")
	in.SetIRCBridges(cfg.IRC.Bridges)
	prog := newProgress(stderr, log)
	opts := ingest.ImportOptions{
		Format: ingest.Format(*format), AssumeWorldReadable: *assume, BatchSize: *batch, Progress: prog.update,
		RouteUnclaimedAliases: true, IRC: ircOpts,
	}
	if cfg.Media.Enabled {
		// An Element export ZIP's attachments go into the media store.
		if opts.Media, err = openMedia(ctx, cfg); err != nil {
			return err
		}
		opts.MediaMaxSize, opts.MediaMaxTotal = cfg.Media.MaxSize, cfg.Media.MaxTotal
	}
	failed := 0
	var total ingest.ImportReport
	for _, path := range files {
		rep, err := in.ImportFile(ctx, path, opts)
		prog.done()
		for _, le := range rep.Rejected {
			fmt.Fprintf(stderr, "%s: %v (line skipped)\n", path, le)
		}
		for _, le := range rep.Changed {
			fmt.Fprintf(stderr, "%s: %v\n", path, le)
		}
		for _, le := range rep.OtherRoom {
			fmt.Fprintf(stderr, "%s: %v\n", path, le)
		}
		for _, le := range rep.WithdrawnLines {
			fmt.Fprintf(stderr, "%s: %v (not imported again)\n", path, le)
		}
		for _, le := range rep.QuarantinedLines {
			fmt.Fprintf(stderr, "%s: %v (archiver quarantine lists it)\n", path, le)
		}
		for _, me := range rep.MediaErrors {
			fmt.Fprintf(stderr, "%s: attachment %v (the archiver fetches it from the homeserver instead)\n", path, me)
		}
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%v\n", err)
			continue
		}
		fmt.Fprintln(stdout, rep.String())
		total.Events += rep.Events
		total.Result.Add(rep.Result)
		total.Rejected = append(total.Rejected, rep.Rejected...)
		total.Changed = append(total.Changed, rep.Changed...)
		if rep.Format.IsIRC() {
			continue // public because the operator vouched for it by importing it
		}
		for _, r := range rep.Unstated {
			if *assume {
				fmt.Fprintf(stdout, "  %s: the file does not state its history visibility; archived as world-readable because you passed --assume-world-readable\n", r)
			} else {
				fmt.Fprintf(stdout, "  %s: the file does not state its history visibility, so its messages were not archived; pass --assume-world-readable if the room's history was public\n", r)
			}
		}
	}
	if len(files) > 1 {
		fmt.Fprintf(stdout, "total: %d files, %d events read, %d stored, %d already archived, %d not public; %d lines rejected",
			len(files)-failed, total.Events, total.Stored, total.Duplicates, total.NotPublic, len(total.Rejected))
		if len(total.Changed) > 0 {
			fmt.Fprintf(stdout, "; %d lines differ from the archived ones (kept the archived)", len(total.Changed))
		}
		if total.Withdrawn > 0 {
			fmt.Fprintf(stdout, "; %d events deleted from the archive before, not imported again", total.Withdrawn)
		}
		fmt.Fprintln(stdout)
	}
	if ircOpts != nil && ircOpts.Successor != "" {
		if err := in.LinkSuccessor(ctx, ircOpts.Options, ircOpts.Successor); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s continues in %s: linked both ways\n", ircOpts.Room, ircOpts.Successor)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}
