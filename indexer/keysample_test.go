package indexer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/indexer"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// An index made before the manifest recorded its key scheme (every index
// of an upgraded deployment), over the SAME database, whose oldest
// documents are of messages a retention policy has expired (screened by
// EventsByKey, not yet purged), is judged foreign: 503 for every search
// and a full rebuild.
func TestKeySampleOfExpiredMessagesServes(t *testing.T) {
	for _, caughtUp := range []bool{false, true} {
		t.Run(fmt.Sprintf("policyIndexed=%v", caughtUp), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, "sqlite", store.Options{Retention: retention.Policy{Enabled: true}})
			now := time.Now().UnixMilli()
			var ls []string
			for i := range 20 {
				ls = append(ls, msg(fmt.Sprintf("$old%d", i), now-3*86400000+int64(i), `{"msgtype":"m.text","body":"bilby old"}`))
			}
			ls = append(ls, msg("$new", now-1000, `{"msgtype":"m.text","body":"bilby new"}`))
			add(t, st, lines(ls...)...)
			dir := t.TempDir()
			ix := openIndex(t, st, dir)
			catchUp(t, ix)
			// The room's retention policy (or merely time passing under
			// one): its oldest messages are expired, not yet purged.
			add(t, st, `{"event_id":"$ret","room_id":"!r:x","type":"m.room.retention","sender":"@a:x","origin_server_ts":`+fmt.Sprint(now-500)+`,"state_key":"","content":{"max_lifetime":86400000}}`)
			if caughtUp {
				catchUp(t, ix)
			}
			ix.Close()
			forgetKeys(t, dir)
			ix = openIndex(t, st, dir)
			q, _ := indexer.ParseQuery("bilby")
			if _, err := ix.Search(ctx, indexer.Request{Query: q}); errors.Is(err, indexer.ErrRebuilding) {
				t.Errorf("an index of this very database answers 503 (judged built over another database's keys): %v", err)
			}
			catchUp(t, ix)
			if _, err := os.Stat(filepath.Join(dir, "index.new")); err == nil {
				t.Errorf("a rebuild was started")
			}
		})
	}
}
