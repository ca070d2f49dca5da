package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// An invite the bot has already acted on can come again: /sync's timeline
// of a room the bot has since joined, or a homeserver redelivering a
// transaction. Judging it again would make the bot leave a room an admin's
// later invite had it join (a member's earlier, refused invite would be
// checked anew, and refused anew). Only an invite that is still the bot's
// membership is a request to join.
func TestStaleInviteIsNotJudgedAgain(t *testing.T) {
	const roomID = "!stale:example.org"
	const bot = "@archive:example.org"
	member := func(evID, sender, membership string, ts int64) *event.Event {
		raw := fmt.Sprintf(`{"event_id":%q,"room_id":%q,"type":"m.room.member","sender":%q,"state_key":%q,"origin_server_ts":%d,"content":{"membership":%q}}`,
			evID, roomID, sender, bot, ts, membership)
		ev, err := event.Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := New(st, storetest.Logger(t), bot)
		m := NewManager(ManagerConfig{SpoolDir: t.TempDir()}, nil, in, st, bot, storetest.Logger(t))
		bobInvite := member("$bobinvite", "@bob:example.org", "invite", 10)
		history := []*event.Event{
			bobInvite,
			member("$join1", bot, "join", 20),
			member("$leave1", bot, "leave", 30),
			member("$aliceinvite", "@alice:example.org", "invite", 40),
			member("$join2", bot, "join", 50),
		}
		if _, err := in.Ingest(ctx, history); err != nil {
			t.Fatal(err)
		}
		pending := func() []store.PendingJoin {
			t.Helper()
			p, err := st.DuePendingJoins(ctx, time.Now().Add(time.Hour), 10)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		// Bob's invite again, as /sync's timeline brings it.
		if _, err := in.Ingest(ctx, []*event.Event{bobInvite}); err != nil {
			t.Fatal(err)
		}
		if err := m.Committed(ctx, []*event.Event{bobInvite}); err != nil {
			t.Fatal(err)
		}
		if p := pending(); len(p) != 0 {
			t.Fatalf("a stale invite asked for a join: %+v", p)
		}
		// A new invite, after the bot left again, is a request.
		fresh := member("$carolinvite", "@carol:example.org", "invite", 70)
		if _, err := in.Ingest(ctx, []*event.Event{member("$leave2", bot, "leave", 60), fresh}); err != nil {
			t.Fatal(err)
		}
		if err := m.Committed(ctx, []*event.Event{fresh}); err != nil {
			t.Fatal(err)
		}
		if p := pending(); len(p) != 1 || p[0].Inviter != "@carol:example.org" {
			t.Fatalf("pending joins after a fresh invite = %+v", p)
		}
	})
}
