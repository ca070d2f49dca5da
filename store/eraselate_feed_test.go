package store_test

import (
	"context"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// eraseLate feeds a change for an erased user's governing state event on
// every delivery of it, a redelivery of the very event stored and stripped
// already (a /state fetch, a sweep, a repeated transaction) among them:
// the UPDATE changes nothing, but the room's feed position moves, so every
// cached page of the room loses its key and every index re-reads it.
func TestEraseLateRedeliveryFeedsNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put(t, st, baseRoom(t)...)
		jr := mk(t, "$jr", "m.room.join_rules", "@bob:example.org", 3000, sk(""), `{"join_rule":"public","note":"my words"}`)
		put(t, st, jr)
		if _, err := st.EraseUser(ctx, "@bob:example.org", false); err != nil {
			t.Fatal(err)
		}
		before, err := st.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res := put(t, st, jr); res.Stored != 0 {
			t.Fatalf("the redelivery stored %d", res.Stored)
		}
		after, err := st.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Errorf("a redelivery of an erased user's event, stripped already, moved the feed %d → %d", before, after)
		}
	})
}
