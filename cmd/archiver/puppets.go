package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// puppetBatch is how many events one transaction names: short enough
// that the appservice's writes, which wait for the same lock, wait little.
const puppetBatch = 1000

// nameArchivedPuppets gives the events of the configured bridges' puppets
// archived before (a bridge configured later, events from before the
// archiver knew bridges) the nick the Ingester gives their new ones.
// `run` calls it at every start, beside the appservice: an operator who
// configures irc.bridges expects the setting to hold for the whole
// archive, without a command to know of, and a start with nothing to do
// costs one pass over the senders of unnamed events and writes nothing.
// Progress goes to the log at most every 10 s, for a large archive.
func nameArchivedPuppets(ctx context.Context, st *store.Store, bridges irclog.Bridges, log *slog.Logger) {
	if len(bridges) == 0 {
		return
	}
	start, last := time.Now(), time.Now()
	n, err := st.NamePuppets(ctx, bridges.Nick, puppetBatch, func(done int) {
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			log.Info("naming archived IRC puppets by their nick", "events", done)
		}
	})
	if err != nil {
		if ctx.Err() == nil {
			log.Error("naming archived IRC puppets by their nick stopped; the next start goes on", "events", n, "err", err)
		}
		return
	}
	log.Info("named archived IRC puppets by their nick", "events", n, "took", time.Since(start).Round(time.Millisecond))
}
