package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/pgtest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// `archiver run` with irc.bridges configured names the puppets' events
// archived before: a puppet without a display name shows by its nick, and
// the log says how many events it named.
func TestRunNamesArchivedPuppets(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("MXARCHIVE_DATA_DIR", dir)
			t.Setenv("MXARCHIVE_DATABASE_TYPE", dialect)
			cfg := store.Config{Type: dialect}
			if dialect == "postgres" {
				cfg.URI = pgtest.NewDatabase(t)
				t.Setenv("MXARCHIVE_DATABASE_URI", cfg.URI)
			}
			t.Setenv("MXARCHIVE_HOMESERVER_ADDRESS", "http://127.0.0.1:1")
			t.Setenv("MXARCHIVE_HOMESERVER_DOMAIN", "example.org")
			t.Setenv("MXARCHIVE_APPSERVICE_AS_TOKEN", "as-token")
			t.Setenv("MXARCHIVE_APPSERVICE_HS_TOKEN", "hs-token")
			t.Setenv("MXARCHIVE_APPSERVICE_LISTEN", "127.0.0.1:0")

			st, err := store.Open(context.Background(), cfg, dir, storetest.Logger(t), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			const puppet = "@_oftc_zed:matrix.org"
			var evs []store.Event
			for i, e := range []struct {
				typ, sender, content string
				stateKey             *string
			}{
				{"m.room.create", "@alice:example.org", `{"room_version":"10"}`, ptr("")},
				{"m.room.history_visibility", "@alice:example.org", `{"history_visibility":"world_readable"}`, ptr("")},
				{"m.room.member", puppet, `{"membership":"join"}`, ptr(puppet)},
				{"m.room.message", puppet, `{"msgtype":"m.text","body":"hello from IRC"}`, nil},
			} {
				m := map[string]any{"event_id": fmt.Sprintf("$e%d", i), "room_id": "!r:example.org", "type": e.typ,
					"sender": e.sender, "origin_server_ts": 1000 + i, "content": json.RawMessage(e.content)}
				if e.stateKey != nil {
					m["state_key"] = *e.stateKey
				}
				raw, _ := json.Marshal(m)
				ev, err := event.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, store.Event{Event: *ev, Public: true})
			}
			if _, err := st.PutEvents(context.Background(), evs); err != nil {
				t.Fatal(err)
			}

			t.Setenv("MXARCHIVE_IRC_BRIDGES", "matrix.org=_oftc_")
			var out bytes.Buffer
			var errs lockedBuffer // the archiver's goroutines log into it
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := run(ctx, []string{"run"}, &out, &errs); err != nil {
				t.Fatalf("run: %v\n%s", err, errs.String())
			}
			for _, evID := range []string{"$e2", "$e3"} {
				e, err := st.EventByID(context.Background(), id.EventID(evID))
				if err != nil {
					t.Fatal(err)
				}
				if e.SenderName != "zed" {
					t.Errorf("%s: sender name %q, want the nick zed\n%s", evID, e.SenderName, errs.String())
				}
			}
			if !strings.Contains(errs.String(), "named archived IRC puppets") {
				t.Errorf("the log does not say how many archived events were named:\n%s", errs.String())
			}
		})
	}
}

func ptr(s string) *string { return &s }

// lockedBuffer is a bytes.Buffer safe for goroutines that outlive run.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
