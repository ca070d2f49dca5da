package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/retention"
	"github.com/mxarchive/mxarchive/store"
)

// On the day the expiry cutoff falls in, DayCounts counts only the
// messages from the cutoff on, as HourCounts does: the calendar once
// counted the day from its midnight (or from the caller's from), so it
// showed expired messages that the purge had not deleted yet.
func TestDayCountsExpiry(t *testing.T) {
	for _, dialect := range storetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenWith(t, dialect, store.Options{Retention: retention.Policy{Enabled: true, DefaultMaxLifetime: retention.Lifetime(48 * time.Hour)}})
			cut := time.Now().UnixMilli() - 48*hourMS
			kept := cut + 5*60000 // five minutes on the kept side, whatever the test's speed
			day := kept - kept%dayMS
			times := map[string]int64{
				"$expired": kept - 10*60000, // before the cut, maybe the day before
				"$older":   kept - 30*hourMS,
				"$kept":    kept,
				"$later":   kept + 90*60000,
			}
			if day+60000 < cut { // the day's midnight is expired unless the cut is in its first minute
				times["$early"] = day
			}
			evs := baseRoom(t)
			want := map[int64]int{}
			for evID, ts := range times {
				evs = append(evs, mk(t, evID, "m.room.message", "@alice:example.org", ts, nil, `{"msgtype":"m.text","body":"hi"}`))
				if ts >= kept {
					want[ts-ts%dayMS]++
				}
			}
			put(t, st, evs...)
			// from before the cut, as the calendar asks for a whole month
			got, err := st.DayCounts(ctx, room, day-3*dayMS, day+3*dayMS)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("DayCounts with a 48 h lifetime = %v\nwant %v", got, want)
			}
		})
	}
}
