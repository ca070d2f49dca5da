package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestInsertStopsWithItsContext: SQLite's multi-row inserts run under a
// context that does not end (insertRowsSQLite), so a batch whose context
// ends between two of them must still stop there, with the context's
// error, and leave nothing of the batch stored or in the feed. Once the
// context ends, database/sql rolls the transaction back on a goroutine of
// its own: the next statement may run first, or find the transaction
// closed ("wait": the rollback given time to come first); the error is
// the context's either way.
func TestInsertStopsWithItsContext(t *testing.T) {
	for _, wait := range []time.Duration{0, 100 * time.Millisecond} {
		t.Run(fmt.Sprintf("wait=%v", wait), func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			base := baseRoom(t)
			put(t, st, base...)
			before, err := st.Changes(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var batch []store.Event
			for i := range 200 { // four statements of 64 rows and two of 4
				batch = append(batch, mk(t, fmt.Sprintf("$stop%d", i), "m.room.message", "@alice:example.org", 2000+int64(i), nil,
					fmt.Sprintf(`{"msgtype":"m.text","body":"line %d"}`, i)))
			}
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			statements := 0
			st.SetBeforeInsertStatement(func() {
				if statements++; statements == 2 {
					cancel() // after the first statement wrote its 64 rows
					time.Sleep(wait)
				}
			})
			res, err := st.PutEvents(cctx, batch)
			st.SetBeforeInsertStatement(nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("PutEvents with its context ended mid-batch = %+v, %v; want context.Canceled", res, err)
			}
			if statements != 2 {
				t.Errorf("%d statements began; want the batch stopped at the second", statements)
			}
			batchLeftNothing(t, st, len(base), before)
			if res := put(t, st, batch...); res.Stored != len(batch) {
				t.Errorf("the same batch afterwards: %+v, want %d stored", res, len(batch))
			}
		})
	}
}
