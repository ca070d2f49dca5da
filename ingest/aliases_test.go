package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/dendritetest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// roomWithAlias is an archived room (its ID substituted for room) whose
// canonical_alias event claims the given aliases.
func roomWithAlias(roomID, evID string, alias string, alt ...string) []string {
	content := fmt.Sprintf(`{"alias":%q,"alt_aliases":[%s]}`, alias, quoteAll(alt))
	lines := append(header("world_readable"), ev(evID, "m.room.canonical_alias", "@alice:example.org", 4, sk(""), content),
		msg(evID+"m", 5, "hello"))
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(strings.ReplaceAll(l, `"`+room+`"`, fmt.Sprintf("%q", roomID)), `"$`, `"$`+roomID[1:3])
	}
	return lines
}

func quoteAll(ss []string) string {
	var q []string
	for _, s := range ss {
		q = append(q, fmt.Sprintf("%q", s))
	}
	return strings.Join(q, ",")
}

// The verifier asks a real homeserver's directory: the room it names gets
// the alias, a squatter and an alias the directory does not know get none,
// an alias it cannot look up waits without holding the others back, and
// with the homeserver unreachable the claims wait for the next round.
func TestAliasVerifierAsksTheDirectory(t *testing.T) {
	reg := dendritetest.NewRegistration("aliastest", "http://127.0.0.1:9", "archivebot")
	hs := dendritetest.Start(t, dendritetest.Options{Registrations: []string{reg.Write(t)}})
	alice := hs.Register(t, "alice")
	real := alice.CreateRoom(t, map[string]any{"preset": "public_chat", "room_alias_name": "town"})
	town, nowhere := "#town:"+hs.ServerName, "#nowhere:"+hs.ServerName
	client, err := ingest.NewClient(hs.URL, reg.ASToken, id.UserID(reg.SenderID(hs.ServerName)))
	if err != nil {
		t.Fatal(err)
	}
	down, err := ingest.NewClient("http://127.0.0.1:9", reg.ASToken, id.UserID(reg.SenderID(hs.ServerName)))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := ingest.New(st, storetest.Logger(t), "")
		importFile(t, in, writeLines(t, roomWithAlias(real, "$a", town)), ingest.ImportOptions{})
		importFile(t, in, writeLines(t, roomWithAlias("!squat:evil.example", "$s", town, nowhere, "#far:elsewhere.example")), ingest.ImportOptions{})

		// Unreachable: an error for the retry loop, nothing decided.
		if _, err := ingest.NewAliasVerifier(down, st, storetest.Logger(t), 0).Round(ctx); err == nil {
			t.Error("a round against an unreachable homeserver reported no error")
		}
		if p, err := st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10); err != nil || len(p) != 4 {
			t.Errorf("pending after a failed round = %+v, %v", p, err)
		}

		// The homeserver answers 500 for an alias on a server it cannot
		// reach: that claim waits, the others are decided.
		if n, err := ingest.NewAliasVerifier(client, st, storetest.Logger(t), 0).Round(ctx); n != 4 || err != nil {
			t.Fatalf("Round = %d, %v", n, err)
		}
		if got, err := st.RoomIDByAlias(ctx, town); err != nil || got != id.RoomID(real) {
			t.Errorf("%s routes to %q, %v; want %s", town, got, err, real)
		}
		if got, err := st.RoomIDByAlias(ctx, nowhere); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s (unknown to the directory) routes to %q, %v", nowhere, got, err)
		}
		if p, err := st.PendingAliasClaims(ctx, time.Time{}, time.Time{}, 10); err != nil || len(p) != 0 {
			t.Errorf("pending after a round = %+v, %v", p, err)
		}
		if p, err := st.PendingAliasClaims(ctx, time.Time{}, time.Now().Add(time.Minute), 10); err != nil || len(p) != 1 || p[0].Alias != "#far:elsewhere.example" {
			t.Errorf("failed lookups due for a retry = %+v, %v", p, err)
		}
		if r, err := st.Room(ctx, "!squat:evil.example"); err != nil || r.Alias != "" {
			t.Errorf("the squatter's slug alias = %q, %v", r.Alias, err)
		}
	})
}
