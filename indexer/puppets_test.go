package indexer_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mxarchive/mxarchive/ingest"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/irclog"
	"github.com/mxarchive/mxarchive/store"
)

// The index holds user IDs, not names: the renamed changes that name
// archived IRC puppets by their nick move its checkpoint past them
// without reading a single event again (an archive of years of bridged
// IRC would otherwise be re-indexed by every replica).
func TestRenamedChangesReadNoEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const puppet = "@libera_zed:libera.chat"
		path := filepath.Join(t.TempDir(), "room.ndjson")
		lines := `{"event_id":"$c","room_id":"!x:example.org","type":"m.room.create","sender":"@a:example.org","origin_server_ts":1767225600000,"state_key":"","content":{"room_version":"10"}}
{"event_id":"$hv","room_id":"!x:example.org","type":"m.room.history_visibility","sender":"@a:example.org","origin_server_ts":1767225600001,"state_key":"","content":{"history_visibility":"world_readable"}}
{"event_id":"$pj","room_id":"!x:example.org","type":"m.room.member","sender":"` + puppet + `","origin_server_ts":1767225600002,"state_key":"` + puppet + `","content":{"membership":"join"}}
{"event_id":"$p1","room_id":"!x:example.org","type":"m.room.message","sender":"` + puppet + `","origin_server_ts":1767225601000,"content":{"msgtype":"m.text","body":"hello from irc"}}
{"event_id":"$p2","room_id":"!x:example.org","type":"m.room.message","sender":"` + puppet + `","origin_server_ts":1767225602000,"content":{"msgtype":"m.text","body":"still here"}}
`
		if err := os.WriteFile(path, []byte(lines), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ingest.New(st, storetest.Logger(t), "").ImportFile(context.Background(), path, ingest.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		ix := openIndex(t, st, t.TempDir())
		catchUp(t, ix)
		count, err := st.CountQueries()
		if err != nil {
			t.Fatal(err)
		}
		// An empty catch-up: what reading the feed alone costs.
		catchUp(t, ix)
		idle := count()

		bridges := irclog.Bridges{{Server: "libera.chat", Prefix: "libera_"}}
		if n, err := st.NamePuppets(context.Background(), bridges.Nick, 100, nil); err != nil || n != 3 {
			t.Fatalf("NamePuppets = %d, %v; want 3 events named", n, err)
		}
		before := count()
		catchUp(t, ix)
		// The feed's batch, then the empty read that ends the catch-up,
		// and the batch's anchor (feedmark.go).
		if got := count() - before; got > 2*idle+1 {
			t.Errorf("catching up on 3 renamed changes took %d queries, want only the feed's reads and the anchor (%d)", got, 2*idle+1)
		}
		changes, err := st.Changes(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := ix.Checkpoint()
		if err != nil {
			t.Fatal(err)
		}
		if head := changes[len(changes)-1].Pos; cp != head {
			t.Errorf("checkpoint %d, want the feed's head %d", cp, head)
		}
		if res := search(t, ix, "from:"+puppet+" irc", "", 10, ""); len(res.Events) != 1 {
			t.Errorf("the puppet's message is no longer found by its sender: %+v", res)
		}
	})
}
