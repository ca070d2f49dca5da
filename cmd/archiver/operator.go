package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// operatorCmd runs one of the operator's commands: hide-room, show-room,
// purge-room, takedown, erase-user, optout, optin and retention. Each
// is logged (slog and the operator_log table) with who ran it and when,
// dry runs too. The change feed carries each to archive-web's index.
func operatorCmd(ctx context.Context, cfg config.Config, log *slog.Logger, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "say what would change, change nothing")
	reason := fs.String("reason", "", "why (shown to readers for hide-room and takedown)")
	by := fs.String("by", "", "who is running this, for the log (default: the system user)")
	ircNick := fs.String("irc", "", "optout, optin, erase-user: an IRC nick whose imported lines in --room it applies to")
	ircRoom := fs.String("room", "", "with --irc: the room the nick's IRC logs were imported into")
	force := fs.Bool("force", false, "erase-user, optout: apply to a user ID the archive holds nothing of (a typo is refused without it)")
	// Flags may follow the argument: archiver takedown $ev --reason x.
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	needsArg := cmd != "retention"
	if *ircNick != "" {
		if cmd != "optout" && cmd != "optin" && cmd != "erase-user" || *ircRoom == "" {
			return fmt.Errorf("usage: archiver %s --irc NICK --room ROOM", cmd)
		}
		needsArg = false
	}
	if needsArg && len(positional) != 1 || !needsArg && len(positional) != 0 {
		return fmt.Errorf("usage: archiver %s", operatorUsage[cmd])
	}
	if cmd == "takedown" && strings.TrimSpace(*reason) == "" {
		return errors.New("takedown needs --reason TEXT: readers see it in place of the message")
	}
	target := ""
	if needsArg {
		target = positional[0]
	}
	actor := *by
	if actor == "" {
		actor = systemUser()
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	var affected int64
	var summary string
	recorded := false
	// record logs the command (slog and operator_log) as far as it went:
	// called as soon as what it changed is committed, before anything
	// that may still fail (media clean-up), and when it stops part-way.
	record := func(failed error) error {
		s, r := summary, *reason
		if failed != nil {
			s += " (stopped: " + failed.Error() + ")"
			r = strings.TrimSpace(r + " [stopped: " + failed.Error() + "]")
		}
		if *dryRun {
			s = "dry run, nothing changed: " + strings.Replace(s, "deleted", "would be deleted", 1)
		}
		fmt.Fprintln(stdout, s)
		log.Info("operator command", "command", cmd, "target", target, "by", actor, "dry_run", *dryRun, "affected", affected, "reason", r)
		// Written even when ctx has ended (Ctrl-C, systemd stop): a stop
		// is the very case the entry is for, and the log is the audit
		// trail of erasures. Bounded, so the stop still ends the program.
		logCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer cancel()
		return st.LogOperator(logCtx, store.OperatorAction{At: time.Now(), Actor: actor, Command: cmd, Target: target,
			Reason: r, DryRun: *dryRun, Affected: affected})
	}
	switch cmd {
	case "hide-room", "show-room", "purge-room":
		room, err := resolveRoom(ctx, st, target)
		if err != nil {
			return err
		}
		if strings.HasPrefix(target, "#") {
			// Logged by both, as a list: `archiver log --target` finds
			// either, the alias even once it routes to another room.
			target = string(room) + "," + target
		} else {
			target = string(room)
		}
		r, err := st.Room(ctx, room)
		if err != nil {
			return err
		}
		switch cmd {
		case "purge-room":
			affected, err = st.PurgeRoom(ctx, room, *dryRun)
			summary = fmt.Sprintf("%d events of %s deleted", affected, room)
			if err != nil && !*dryRun {
				// Stopped part-way: the room is marked purged (that
				// commits first) and affected events are gone. Logged
				// as far as it went; running it again finishes it.
				return errors.Join(err, record(err))
			}
		case "hide-room":
			affected = r.MessageCount
			if !*dryRun {
				err = st.HideRoom(ctx, room, true, *reason)
			}
			summary = fmt.Sprintf("%s hidden (%d messages)", room, affected)
		default:
			affected = r.MessageCount
			if !*dryRun {
				if err = st.HideRoom(ctx, room, false, ""); err == nil {
					r, err = st.Room(ctx, room)
				}
			}
			summary = fmt.Sprintf("%s shown again (%d messages)", room, affected)
			switch h := r.Hiding(); {
			case err != nil:
			case h == store.HiddenByOperator && *dryRun:
			case h != store.NotHidden:
				// The operator's hiding is lifted (or there was none),
				// but the room has reasons of its own.
				summary = fmt.Sprintf("%s not hidden by the operator, but still not shown: %s", room, h)
			}
		}
		if err != nil {
			return err
		}
	case "takedown":
		if !strings.HasPrefix(target, "$") {
			return fmt.Errorf("%q is not an event ID (they start with $)", target)
		}
		ev, err := st.EventByID(ctx, id.EventID(target))
		if err != nil {
			return err
		}
		affected = 1
		summary = fmt.Sprintf("content of %s in %s removed", ev.ID, ev.RoomID)
		if ev.Redacted {
			// Taken down again: its reason is the new one. Redacted in
			// the room: readers see that redaction, so a reason given
			// here would be logged and never shown.
			r, err := st.RedactionOf(ctx, ev.ID)
			if err != nil {
				return err
			}
			if r.Kind != store.RedactionTakedown {
				return fmt.Errorf("%s is already redacted in its room, and readers see that redaction; nothing to take down", ev.ID)
			}
			affected = 0
			summary = fmt.Sprintf("%s was taken down already; its reason is now the one given", ev.ID)
		}
		if !*dryRun {
			if err := st.Takedown(ctx, ev.ID, *reason); err != nil {
				return err
			}
		}
	case "erase-user", "optout", "optin":
		users, err := targetUsers(ctx, st, target, *ircNick, *ircRoom)
		if err != nil {
			return err
		}
		target = joinUsers(users)
		if *ircNick == "" && cmd != "optin" && !*force {
			known, err := st.UserKnown(ctx, users[0])
			if err != nil {
				return err
			}
			if !known {
				return fmt.Errorf("the archive holds no event sent by or about %s (user IDs are case-sensitive): nothing to %s; pass --force to opt them out before they ever speak", users[0], cmd)
			}
		}
		var summaries []string
		for _, u := range users {
			var n int64
			switch cmd {
			case "erase-user":
				n, err = st.EraseUser(ctx, u, *dryRun)
				summaries = append(summaries, fmt.Sprintf("%d events of %s deleted or stripped; %s opted out", n, u, u))
			case "optout":
				summaries = append(summaries, fmt.Sprintf("%s opted out", u))
				if !*dryRun {
					var changed bool
					changed, err = st.OptOut(ctx, u, store.OptOutByOperator)
					n = boolCount(changed)
				}
			default:
				summaries = append(summaries, fmt.Sprintf("%s opted in", u))
				if !*dryRun {
					var changed bool
					changed, err = st.OptIn(ctx, u)
					n = boolCount(changed)
				}
			}
			// Counted even when it stopped: EraseUser returns the events
			// its committed batches deleted.
			affected += n
			if err != nil {
				// Those before it are done: say so. This one is done
				// only as far as its count says: its summary stays when
				// it changed something (an erasure opts the user out
				// before its first batch), and goes when it changed
				// nothing that we know of.
				if n == 0 {
					summaries = summaries[:len(summaries)-1]
				}
				summary = strings.Join(summaries, "; ")
				return errors.Join(err, record(err))
			}
		}
		summary = strings.Join(summaries, "; ")
		if *ircNick != "" {
			if err := record(nil); err != nil {
				return err
			}
			recorded = true
			if err := puppetHint(ctx, st, cfg.IRC.Bridges, *ircNick, cmd, stdout); err != nil {
				return err
			}
		}
	case "retention":
		// A dry run only counts, so it has no batches to show.
		prog := newProgress(stderr, log)
		per, err := st.PurgeExpired(ctx, *dryRun, prog.purge)
		prog.done()
		rooms := make([]string, 0, len(per))
		for r, n := range per {
			affected += n
			rooms = append(rooms, fmt.Sprintf("%s: %d", r, n))
		}
		slices.Sort(rooms)
		summary = fmt.Sprintf("%d expired events deleted", affected)
		if len(rooms) > 0 {
			summary += " (" + strings.Join(rooms, ", ") + ")"
		}
		if err != nil && affected > 0 {
			return errors.Join(err, record(err))
		}
		if err != nil {
			return err
		}
	}
	if !recorded {
		if err := record(nil); err != nil {
			return err
		}
	}
	if !*dryRun {
		if err := collectMedia(ctx, cfg, st, log); err != nil {
			return fmt.Errorf("%s is done and logged, but deleting the media no event refers to failed (a running archiver deletes them within seconds, as does the next operator command): %w", cmd, err)
		}
	}
	return nil
}

// recordTimeout bounds writing an operator log entry, which is written
// even once the command's context has ended: long enough to wait out
// another writer's transaction, short enough that a stop request (systemd
// waits 90 s before it kills) still ends the program.
const recordTimeout = 15 * time.Second

var operatorUsage = map[string]string{
	"hide-room":  "hide-room ROOM [--reason TEXT] [--dry-run]",
	"show-room":  "show-room ROOM [--dry-run]",
	"purge-room": "purge-room ROOM [--dry-run]",
	"takedown":   "takedown EVENT --reason TEXT [--dry-run]",
	"erase-user": "erase-user (@user:server | --irc NICK --room ROOM) [--dry-run]",
	"optout":     "optout @user:server | optout --irc NICK --room ROOM",
	"optin":      "optin @user:server | optin --irc NICK --room ROOM",
	"retention":  "retention [--dry-run]",
}

func boolCount(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func systemUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// targetUsers is the user an operator command names: a user ID, or with
// --irc the senders an IRC nick was imported as into a room.
func targetUsers(ctx context.Context, st *store.Store, target, nick, room string) ([]id.UserID, error) {
	if nick == "" {
		u, err := parseUser(target)
		return []id.UserID{u}, err
	}
	r, err := resolveRoom(ctx, st, room)
	if err != nil {
		return nil, err
	}
	users, err := ingest.IRCSenders(ctx, st, r, nick)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s has no imported IRC joins, topics or creation to tell its network from, so the nick %q names no one there; name the sender instead: @irc_NETWORK_NICK:SERVER as the import made it", room, nick)
	}
	return users, nil
}

// puppetHint tells the operator of the configured IRC bridges' puppets
// of nick that the archive holds events of: the same nick's live Matrix
// users, which an --irc command does not touch. A puppet is a Matrix user
// of its own across every room, and a nick on IRC need not be one person
// over the years, so the operator names it if they mean it.
func puppetHint(ctx context.Context, st *store.Store, bridges irclog.Bridges, nick, cmd string, stdout io.Writer) error {
	for _, p := range bridges.Puppets(nick) {
		known, err := st.UserKnown(ctx, p)
		if err != nil {
			return err
		}
		if known {
			fmt.Fprintf(stdout, "not changed: %s, the IRC bridge's Matrix user for the nick %s, is a user of its own in every room; if it is the same person: archiver %s %s\n", p, nick, cmd, p)
		}
	}
	return nil
}

func joinUsers(us []id.UserID) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, ",")
}

func parseUser(s string) (id.UserID, error) {
	u := id.UserID(s)
	if _, _, err := u.Parse(); err != nil || !strings.HasPrefix(s, "@") {
		return "", fmt.Errorf("%q is not a Matrix user ID (@user:server)", s)
	}
	return u, nil
}

// resolveRoom accepts a room ID or an alias the archive has seen.
func resolveRoom(ctx context.Context, st *store.Store, s string) (id.RoomID, error) {
	switch {
	case strings.HasPrefix(s, "!"):
		return id.RoomID(s), nil
	case strings.HasPrefix(s, "#"):
		return st.RoomIDByAlias(ctx, s)
	}
	return "", fmt.Errorf("%q is neither a room ID (!…) nor an alias (#…)", s)
}
