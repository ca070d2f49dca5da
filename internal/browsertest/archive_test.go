package browsertest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/browsertest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/render"
	"github.com/mxarchive/mxarchive/store"
	"github.com/mxarchive/mxarchive/web"
)

// The pages are the same on either database (the store tests cover both),
// so these tests use SQLite only and need no PostgreSQL.
func TestMain(m *testing.M) { browsertest.Main(m) }

const (
	demoAnsible = "../../testdata/demo/ansible-community.ndjson"
	demoOpendev = "../../testdata/demo/opendev-infra.ndjson"
)

// archive is archive-web's real handler on loopback, over a store filled
// by the real importer and a search index caught up by the real indexer.
type archive struct {
	st  *store.Store
	url string
}

func newArchive(t *testing.T, st *store.Store, files ...string) *archive {
	t.Helper()
	ctx := context.Background()
	in := ingest.New(st, storetest.Logger(t), "")
	for _, f := range files {
		if _, err := in.ImportFile(ctx, f, ingest.ImportOptions{RouteUnclaimedAliases: true}); err != nil {
			t.Fatalf("import %s: %v", f, err)
		}
	}
	ix, err := indexer.Open(st, filepath.Join(t.TempDir(), "index"), indexer.Options{}, storetest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.CatchUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(st, render.New(render.Options{}), storetest.Logger(t), web.Options{
		Search: ix, BaseURL: "https://archive.example", Bot: "@archive:example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &archive{st: st, url: hs.URL}
}

// ndjson writes events, one JSON object a line, to a file for ImportFile.
type ndjson struct {
	t    *testing.T
	f    *os.File
	w    *bufio.Writer
	name string // prefix of the event IDs, unique per file
	seq  int
	ts   int64
}

func newNDJSON(t *testing.T, name string, startTS int64) *ndjson {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name+".ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	return &ndjson{t: t, f: f, w: bufio.NewWriter(f), name: name, ts: startTS}
}

// add appends an event one second after the previous one and returns its
// ID. stateKey nil: not a state event.
func (n *ndjson) add(room, sender, typ string, stateKey *string, content any) string {
	n.seq++
	n.ts += 1000
	id := fmt.Sprintf("$%s%06d", n.name, n.seq)
	ev := map[string]any{
		"event_id": id, "room_id": room, "sender": sender, "type": typ,
		"origin_server_ts": n.ts, "content": content,
	}
	if stateKey != nil {
		ev["state_key"] = *stateKey
	}
	b, err := json.Marshal(ev)
	if err != nil {
		n.t.Fatal(err)
	}
	n.w.Write(b)
	n.w.WriteByte('\n')
	return id
}

func (n *ndjson) close() string {
	n.t.Helper()
	if err := n.w.Flush(); err != nil {
		n.t.Fatal(err)
	}
	if err := n.f.Close(); err != nil {
		n.t.Fatal(err)
	}
	return n.f.Name()
}

func ptr(s string) *string { return &s }

// openRoom writes what makes a room public and archivable: create, the
// creator's join, power levels, public join rule, world-readable history.
func (n *ndjson) openRoom(room, creator, name string) {
	n.add(room, creator, "m.room.create", ptr(""), map[string]any{"creator": creator, "room_version": "10"})
	n.add(room, creator, "m.room.member", ptr(creator), map[string]any{"membership": "join", "displayname": "Moderator"})
	n.add(room, creator, "m.room.power_levels", ptr(""), map[string]any{"users": map[string]int{creator: 100}, "events_default": 0, "state_default": 50, "redact": 50})
	n.add(room, creator, "m.room.join_rules", ptr(""), map[string]any{"join_rule": "public"})
	n.add(room, creator, "m.room.history_visibility", ptr(""), map[string]any{"history_visibility": "world_readable"})
	if name != "" {
		n.add(room, creator, "m.room.name", ptr(""), map[string]any{"name": name})
	}
}
