package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPreparedReads: the reads prepared once (on SQLite) answer as
// before, from many goroutines at once, with IN lists of every length,
// and still after the connection pool is replaced under them.
func TestPreparedReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		evs := baseRoom(t)
		var ids []id.EventID
		for i := range 40 {
			evID := fmt.Sprintf("$m%d", i)
			ids = append(ids, id.EventID(evID))
			evs = append(evs, mk(t, evID, "m.room.message", "@alice:example.org", int64(2000+10*i), nil, `{"msgtype":"m.text","body":"hello"}`),
				mk(t, fmt.Sprintf("$r%d", i), "m.reaction", "@alice:example.org", int64(2001+10*i), nil,
					fmt.Sprintf(`{"m.relates_to":{"rel_type":"m.annotation","event_id":%q,"key":"👍"}}`, evID)))
		}
		put(t, st, evs...)
		check := func(t *testing.T) {
			var wg sync.WaitGroup
			for n := 1; n <= len(ids); n++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rel, err := st.Related(ctx, ids[:n])
					if err != nil {
						t.Error(err)
						return
					}
					if len(rel) != n {
						t.Errorf("Related of %d messages: %d events, want %d", n, len(rel), n)
					}
					found, err := st.EventsByID(ctx, ids[:n])
					if err != nil || len(found) != n {
						t.Errorf("EventsByID of %d: %d events, %v", n, len(found), err)
					}
				}()
			}
			wg.Wait()
			page, _, err := st.DayPage(ctx, room, 0, 86400000, store.Position{}, 1000, 0)
			if err != nil || len(page) != 40+len(baseRoom(t)) {
				t.Errorf("DayPage: %d events, %v", len(page), err)
			}
		}
		check(t)
		if st.Dialect() == "sqlite" {
			// A new pool (as CountQueries opens) must not be handed the old
			// pool's statements.
			count, err := st.CountQueries()
			if err != nil {
				t.Fatal(err)
			}
			check(t)
			if count() == 0 {
				t.Error("the reads did not go through the new pool")
			}
		}
	})
}
