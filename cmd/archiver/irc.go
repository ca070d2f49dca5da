package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/mxarchive/mxarchive/config"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// ircFlags are archiver import's flags for IRC logs.
type ircFlags struct {
	network, channel, room, newRoom, tz, date, server, successor string
}

func (f *ircFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.network, "network", "", "IRC logs: the network (its nicks become senders @irc_NETWORK_NICK)")
	fs.StringVar(&f.channel, "channel", "", "IRC logs: the channel, e.g. '#opendev'")
	fs.StringVar(&f.room, "room", "", "IRC logs: the archived room (ID or alias) whose history they come before")
	fs.StringVar(&f.newRoom, "new-room", "", "IRC logs: make a room '#name:server' for a channel that never moved to Matrix")
	fs.StringVar(&f.tz, "tz", "UTC", "IRC logs: the time zone their times are written in")
	fs.StringVar(&f.date, "date", "", "IRC logs: the day (YYYY-MM-DD) of a log whose lines and file name carry none")
	fs.StringVar(&f.successor, "successor", "", "IRC logs with --new-room: the Matrix room (ID or alias) the channel moved to, linked both ways like a room upgrade")
	fs.StringVar(&f.server, "server", "", "IRC logs: server name of the senders' user IDs (default: homeserver.domain, else the room's server)")
}

// options returns the IRC options the flags give, nil if no IRC flag was
// given (an IRC log is then refused, saying which flags it needs).
func (f *ircFlags) options(ctx context.Context, cfg config.Config, st *store.Store) (*ingest.IRCOptions, error) {
	if f.network == "" && f.channel == "" && f.room == "" && f.newRoom == "" && f.successor == "" {
		return nil, nil
	}
	switch {
	case f.network == "" || f.channel == "":
		return nil, errors.New("import: IRC logs need both --network and --channel")
	case !strings.HasPrefix(f.channel, "#") && !strings.HasPrefix(f.channel, "&"):
		return nil, fmt.Errorf("import: --channel %q is not a channel (#name)", f.channel)
	case (f.room == "") == (f.newRoom == ""):
		return nil, errors.New("import: IRC logs need exactly one of --room ROOM and --new-room '#name:server'")
	case f.successor != "" && f.newRoom == "":
		return nil, errors.New("import: --successor links a room made with --new-room to the Matrix room the channel moved to")
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return nil, fmt.Errorf("import: --tz %q: %w", f.tz, err)
	}
	opts := &ingest.IRCOptions{Options: irclog.Options{Network: f.network, Channel: f.channel, Location: loc, Server: f.server}}
	if f.date != "" {
		if opts.Date, err = time.Parse(time.DateOnly, f.date); err != nil {
			return nil, fmt.Errorf("import: --date %q is not YYYY-MM-DD", f.date)
		}
	}
	if f.newRoom != "" {
		if opts.Room, err = irclog.RoomID(f.newRoom); err != nil {
			return nil, fmt.Errorf("import: --new-room: %w", err)
		}
		opts.NewRoomAlias = f.newRoom
	} else {
		if opts.Room, err = resolveRoom(ctx, st, f.room); err != nil {
			return nil, fmt.Errorf("import: --room %s: %w", f.room, err)
		}
		if _, err := st.Room(ctx, opts.Room); err != nil {
			return nil, fmt.Errorf("import: --room %s: %w (IRC history goes into a room the archive holds; --new-room makes one)", f.room, err)
		}
	}
	if f.successor != "" {
		if opts.Successor, err = resolveRoom(ctx, st, f.successor); err != nil {
			return nil, fmt.Errorf("import: --successor %s: %w", f.successor, err)
		}
	}
	if opts.Server == "" {
		opts.Server = cfg.Homeserver.Domain
	}
	if opts.Server == "" {
		_, opts.Server, _ = strings.Cut(string(opts.Room), ":")
	}
	return opts, nil
}
