package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// AliasVerifier asks the homeserver's room directory about every alias a
// room's state claims (m.room.canonical_alias: alias and alt_aliases, set
// by any room admin) and records the answer in the store, which routes an
// alias's URLs only to the room the directory names. Claims become pending
// whenever a room's canonical_alias event changes, including the state read
// on join, and are asked about again once a day.
type AliasVerifier struct {
	client *Client
	st     *store.Store
	log    *slog.Logger
	every  time.Duration
	wake   chan struct{}
}

const (
	// aliasBatch bounds the claims read per round; a full batch starts
	// the next round at once.
	aliasBatch = 100
	// aliasRecheck is how often a checked claim is asked about again: the
	// directory can move an alias without any state event in the room.
	aliasRecheck = 24 * time.Hour
	// aliasRetry is how soon a claim the directory failed to look up
	// (a 5xx) is asked about again.
	aliasRetry = time.Hour
	// aliasLookupTimeout bounds one directory request (a remote alias
	// makes the homeserver ask the alias's server).
	aliasLookupTimeout = 30 * time.Second
)

// NewAliasVerifier returns a verifier that looks for pending claims every
// interval (0: 10 s) and whenever Committed sees a canonical alias event.
func NewAliasVerifier(client *Client, st *store.Store, log *slog.Logger, every time.Duration) *AliasVerifier {
	if every <= 0 {
		every = 10 * time.Second
	}
	return &AliasVerifier{client: client, st: st, log: log, every: every, wake: make(chan struct{}, 1)}
}

// Committed implements Notifier: a committed canonical alias event wakes
// the verifier (joins and sweeps are caught by its polling).
func (v *AliasVerifier) Committed(_ context.Context, evs []*event.Event) error {
	for _, ev := range evs {
		if ev.Type == event.TypeCanonicalAlias {
			select {
			case v.wake <- struct{}{}:
			default:
			}
			break
		}
	}
	return nil
}

// Run verifies claims until ctx ends. A round that fails (homeserver or
// database down) is retried with a growing delay, up to five minutes.
func (v *AliasVerifier) Run(ctx context.Context) {
	delay := v.every
	for {
		n, err := v.Round(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			v.log.Warn("verifying room aliases failed; retrying", "in", delay, "err", err)
			delay = min(delay*2, 5*time.Minute)
		case n == aliasBatch:
			continue
		default:
			delay = v.every
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-v.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Round asks the directory about each pending claim (up to a batch) and
// records the answers; it returns how many claims it read. A claim the
// homeserver fails to look up (5xx) is deferred and the round goes on; it
// stops at an error that concerns every claim (the homeserver unreachable
// or rate-limiting, the database down), leaving the rest pending.
func (v *AliasVerifier) Round(ctx context.Context) (int, error) {
	now := time.Now()
	claims, err := v.st.PendingAliasClaims(ctx, now.Add(-aliasRecheck), now.Add(-aliasRetry), aliasBatch)
	if err != nil {
		return 0, err
	}
	for _, c := range claims {
		log := v.log.With("room_id", c.RoomID, "alias", c.Alias, "event_id", c.EventID)
		resolved, err := v.resolve(ctx, c.Alias)
		var me *MatrixError
		if errors.As(err, &me) && me.Status >= 500 || errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			// The homeserver answered, but not about this alias (its own
			// server unreachable, say), or this lookup alone timed out (a
			// remote server that never answers): the others must not wait
			// for it.
			log.Warn("the homeserver's directory could not look the alias up; asking again later", "in", aliasRetry, "err", err)
			if err := v.st.DeferAliasClaim(ctx, c); err != nil {
				return len(claims), err
			}
			continue
		}
		if err != nil {
			return len(claims), err
		}
		res, err := v.st.CheckAliasClaim(ctx, c, resolved)
		if err != nil {
			return len(claims), err
		}
		switch res.Outcome {
		case store.AliasRouted:
			if res.Previous != "" {
				log.Info("alias moved to this room: the directory now resolves it here", "previous_room_id", res.Previous)
			} else {
				log.Debug("alias verified with the homeserver's directory")
			}
		case store.AliasElsewhere:
			log.Warn("alias claim refused: the homeserver's directory resolves it to another room; this room keeps room-ID URLs",
				"directory_room_id", resolved)
		case store.AliasUnresolved:
			log.Info("alias claim not verified: the homeserver's directory does not know it; this room keeps room-ID URLs")
		}
	}
	return len(claims), nil
}

// resolve asks the directory which room an alias names: "" when it names
// none (unknown, or an alias the homeserver refuses to look up); an error
// for what may pass (rate limits, server or network failures).
func (v *AliasVerifier) resolve(ctx context.Context, alias string) (id.RoomID, error) {
	return resolveAlias(ctx, v.client, alias)
}

// resolveAlias is AliasVerifier.resolve with client.
func resolveAlias(ctx context.Context, client *Client, alias string) (id.RoomID, error) {
	// A homeserver that never answers must not stop verification for good.
	ctx, cancel := context.WithTimeout(ctx, aliasLookupTimeout)
	defer cancel()
	room, _, err := client.ResolveAlias(ctx, alias)
	var me *MatrixError
	if errors.As(err, &me) && me.Status >= 400 && me.Status < 500 && me.Status != http.StatusTooManyRequests {
		return "", nil
	}
	return room, err
}
