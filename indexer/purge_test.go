package indexer_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// The retention purge deletes an expired message's row, and keeps its
// room's latest message hidden: both leave the index when it catches up.
// A document is named by the message's time, which the store no longer
// shows for either; without it they stayed in the index for ever, kept out
// of results only by the store check.
func TestPurgedMessagesLeaveTheIndex(t *testing.T) {
	const lifetime = 3 * time.Second
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{
				Enabled: true, AllowedLifetimeMin: retention.Lifetime(time.Second), PurgeInterval: time.Hour}})
			ix := openIndex(t, st, t.TempDir())
			now := time.Now()
			add(t, st, lines(
				fmt.Sprintf(`{"event_id":"$ret","room_id":"!r:x","type":"m.room.retention","sender":"@a:x","origin_server_ts":%d,"state_key":"","content":{"max_lifetime":%d}}`,
					now.Add(-10*time.Second).UnixMilli(), lifetime.Milliseconds()),
				msg("$old", now.Add(-time.Second).UnixMilli(), `{"msgtype":"m.text","body":"quokka old"}`),
				msg("$new", now.Add(-900*time.Millisecond).UnixMilli(), `{"msgtype":"m.text","body":"quokka new"}`),
			)...)
			catchUp(t, ix)
			if time.Since(now) > lifetime-time.Second-100*time.Millisecond {
				t.Fatalf("setting up took %s: too close to the lifetime to test anything", time.Since(now))
			}
			if n, _ := ix.DocCount(); n != 2 {
				t.Fatalf("before the purge the index holds %d documents, want 2", n)
			}
			time.Sleep(time.Until(now.Add(lifetime)))
			n, err := st.PurgeExpired(context.Background(), false, nil)
			if err != nil {
				t.Fatal(err)
			}
			if n["!r:x"] != 1 {
				t.Fatalf("the purge deleted %v, want 1 event of !r:x", n)
			}
			catchUp(t, ix)
			if n, _ := ix.DocCount(); n != 0 {
				t.Errorf("after the purge the index holds %d documents, want 0", n)
			}
		})
	}
}
