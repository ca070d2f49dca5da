package store_test

import (
	"os"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/store"
)

// TestShownMessagesReadTheirIndex: what counts or walks the messages a
// reader sees in full (a day's hour counts, a calendar's day counts, the
// days of a sitemap or a calendar's way on) reads events_shown, the index of those
// messages alone, on both databases (queryPlan), not every event of the
// range on events_room_ts, each looked up in the table. (A feed's latest
// messages, read whole in the order of (origin_ts, nid), stay on
// events_room_ts.)
func TestShownMessagesReadTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		room := "!x:example.org"
		for _, c := range []struct {
			name, query string
			args        []any
		}{
			{"HourCounts", store.HourCountsSQL, []any{room, int64(0), int64(0), store.MaxCount, int64(0)}},
			{"DayCounts", store.CappedCountSQL, []any{room, int64(0), int64(86400000), store.MaxCount}},
			{"RoomDays", store.RoomDaysSQL, []any{room, int64(0), int64(1 << 50), 400}},
			{"AdjacentMessages, before", store.PrevShownSQL, []any{room, int64(1 << 40)}},
			{"AdjacentMessages, after", store.NextShownSQL, []any{room, int64(1 << 40)}},
		} {
			plan := queryPlan(t, st, c.query, c.args...)
			if !strings.Contains(plan, "events_shown") {
				t.Errorf("%s does not read events_shown:\n%s", c.name, plan)
			}
			if strings.Contains(plan, "events_room_ts") {
				t.Errorf("%s walks events_room_ts:\n%s", c.name, plan)
			}
		}
	})
}

// TestShownIndexConditionIsTheQueries: the index's condition is
// shownIndexCond to the letter, which SQLite needs to use it at all.
func TestShownIndexConditionIsTheQueries(t *testing.T) {
	b, err := os.ReadFile("migrations/common/017_shown.sql")
	if err != nil {
		t.Fatal(err)
	}
	if want := " WHERE " + store.ShownIndexCond + ";"; !strings.Contains(string(b), want) {
		t.Errorf("017_shown.sql's index is not on%s", want)
	}
}
