package store_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPollDaysAreShown: a day whose only message is a poll is a day with
// something to read: RoomDays lists it (the calendar, the sitemap, a jump
// to a date), DayCounts counts its poll, the days around it link to it
// (AdjacentMessages), and the room's feed lists the poll
// (LatestMessages). A redacted poll and an opted-out sender's are not
// shown, so their days are not listed; nor are an edit of a poll and a
// state event of a poll's type. A start whose content is not a poll is
// counted: its page says it cannot be shown.
func TestPollDaysAreShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const day = int64(86400000)
		poll := `{"m.poll.start":{"question":{"m.text":"Lunch?"},"answers":[{"id":"y","m.text":"Yes"}]},"m.text":"Lunch?"}`
		put(t, st, append(baseRoom(t),
			mk(t, "$m1", "m.room.message", "@alice:example.org", 1*day+1000, nil, `{"msgtype":"m.text","body":"day one"}`),
			mk(t, "$poll2", "m.poll.start", "@alice:example.org", 2*day+5000, nil, poll),
			mk(t, "$poll2b", "org.matrix.msc3381.poll.start", "@alice:example.org", 2*day+6000, nil, strings.ReplaceAll(poll, "m.poll.start", "org.matrix.msc3381.poll.start")),
			mk(t, "$m3", "m.room.message", "@alice:example.org", 3*day+1000, nil, `{"msgtype":"m.text","body":"day three"}`),
			mk(t, "$poll3", "m.poll.start", "@alice:example.org", 3*day+2000, nil, poll),
			mk(t, "$poll4", "m.poll.start", "@alice:example.org", 4*day+1000, nil, poll),
			mk(t, "$x4", "m.room.redaction", "@alice:example.org", 4*day+2000, nil, `{"redacts":"$poll4"}`),
			mk(t, "$poll5", "m.poll.start", "@bob:example.org", 5*day+1000, nil, poll),
			mk(t, "$m6", "m.room.message", "@alice:example.org", 6*day+1000, nil, `{"msgtype":"m.text","body":"day six"}`),
			// An edit of a poll, on its poll's day and on a day of its
			// own, and a state event of a poll's type: no day page
			// shows them as polls, so they count for nothing.
			mk(t, "$poll3e", "m.poll.start", "@alice:example.org", 3*day+3000, nil, editOf("$poll3", poll)),
			mk(t, "$poll2e", "m.poll.start", "@alice:example.org", 7*day+1000, nil, editOf("$poll2", poll)),
			mk(t, "$poll8", "m.poll.start", "@alice:example.org", 8*day+1000, sk(""), poll),
			// Not a valid poll (no answers): its page says it cannot be
			// shown, so its day is listed.
			mk(t, "$poll9", "m.poll.start", "@alice:example.org", 9*day+1000, nil, `{"m.poll.start":{"question":{"m.text":"?"}}}`),
		)...)
		if _, err := st.OptOut(ctx, "@bob:example.org", store.OptOutByOperator); err != nil {
			t.Fatal(err)
		}

		days, err := st.RoomDays(ctx, room, 0, 10*day, 400)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range days {
			got = append(got, d.Start.Format(time.DateOnly)+" "+time.UnixMilli(d.LastTS).UTC().Format(time.TimeOnly))
		}
		want := []string{"1970-01-02 00:00:01", "1970-01-03 00:00:06", "1970-01-04 00:00:02", "1970-01-07 00:00:01", "1970-01-10 00:00:01"}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Errorf("RoomDays = %v, want %v", got, want)
		}
		if days, err := st.RoomDays(ctx, room, 0, 10*day, 2); err != nil || len(days) != 2 || days[1].Start.UnixMilli() != 2*day {
			t.Errorf("RoomDays up to 2 = %v, %v: want days 1 and 2", days, err)
		}

		counts, err := st.DayCounts(ctx, room, 0, 10*day)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]int{1 * day: 1, 2 * day: 2, 3 * day: 2, 6 * day: 1, 9 * day: 1}; !mapsEqual(counts, want) {
			t.Errorf("DayCounts = %v, want %v", counts, want)
		}

		prev, next, err := st.AdjacentMessages(ctx, room, 3*day, 4*day)
		if err != nil {
			t.Fatal(err)
		}
		if prev != 2*day+6000 || next != 6*day+1000 {
			t.Errorf("AdjacentMessages of day 3 = %d, %d, want the poll of day 2 (%d) and the message of day 6 (%d)", prev, next, 2*day+6000, 6*day+1000)
		}
		if prev, next, err = st.AdjacentMessages(ctx, room, 1*day, 2*day); err != nil || prev != 0 || next != 2*day+5000 {
			t.Errorf("AdjacentMessages of day 1 = %d, %d, %v, want 0 and the poll of day 2 (%d)", prev, next, err, 2*day+5000)
		}

		if prev, next, err = st.AdjacentMessages(ctx, room, 6*day, 7*day); err != nil || prev != 3*day+2000 || next != 9*day+1000 {
			t.Errorf("AdjacentMessages of day 6 = %d, %d, %v, want the poll of day 3 (%d) and that of day 9 (%d)", prev, next, err, 3*day+2000, 9*day+1000)
		}

		latest, err := st.LatestMessages(ctx, room, 5)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(latest); got != "$poll9 $m6 $poll3 $m3 $poll2b " {
			t.Errorf("LatestMessages = %s, want $poll9 $m6 $poll3 $m3 $poll2b", got)
		}
	})
}

// editOf is an edit of the poll target, as content of a poll start.
func editOf(target, poll string) string {
	return `{"m.new_content":` + poll + `,"m.relates_to":{"rel_type":"m.replace","event_id":"` + target + `"},` + strings.TrimPrefix(poll, "{")
}

func mapsEqual(a, b map[int64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestPollsReadTheirIndex: what walks or counts a room's polls reads
// events_polls, not every event of the room on events_room_ts.
func TestPollsReadTheirIndex(t *testing.T) {
	eachPlanStore(t, func(t *testing.T, st *store.Store) {
		r := "!x:example.org"
		for _, c := range []struct {
			name, query string
			args        []any
		}{
			{"DayCounts", store.CappedPollCountSQL, []any{r, int64(0), int64(86400000), store.MaxCount}},
			{"RoomDays", store.PollDaysSQL, []any{r, int64(0), int64(1 << 50), 400}},
			{"LatestMessages", store.LatestPollsSQL, []any{r, int64(0), 50}},
			{"AdjacentMessages, before", store.PrevShownSQL, []any{r, int64(1 << 40)}},
			{"AdjacentMessages, after", store.NextShownSQL, []any{r, int64(1 << 40)}},
			{"HourCounts", store.HourCountsSQL, []any{r, int64(0), int64(0), store.MaxCount, int64(0)}},
		} {
			if plan := queryPlan(t, st, c.query, c.args...); !strings.Contains(plan, "events_polls") {
				t.Errorf("%s does not read events_polls:\n%s", c.name, plan)
			}
		}
	})
}

// TestPollIndexConditionIsTheQueries: the index's condition is
// pollIndexCond to the letter, which SQLite needs to use it at all.
func TestPollIndexConditionIsTheQueries(t *testing.T) {
	b, err := os.ReadFile("migrations/common/029_polls.sql")
	if err != nil {
		t.Fatal(err)
	}
	if want := " WHERE " + store.PollIndexCond + ";"; !strings.Contains(string(b), want) {
		t.Errorf("029_polls.sql's index is not on%s", want)
	}
}

// TestAdjacentDaysAreListedDays: the days before and after a day
// (AdjacentMessages: a day page's links, "go to date" when the day has
// nothing) are days the calendar lists (RoomDays): a day whose only
// message was deleted, or whose only messages are of a sender who opted
// out, is passed over by both.
func TestAdjacentDaysAreListedDays(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const day = int64(86400000)
		msg := `{"msgtype":"m.text","body":"hello"}`
		put(t, st, append(baseRoom(t),
			mk(t, "$m1", "m.room.message", "@alice:example.org", 1*day+1000, nil, msg),
			mk(t, "$m2", "m.room.message", "@alice:example.org", 2*day+1000, nil, msg),
			mk(t, "$x2", "m.room.redaction", "@alice:example.org", 2*day+2000, nil, `{"redacts":"$m2"}`),
			mk(t, "$m3", "m.room.message", "@bob:example.org", 3*day+1000, nil, msg),
			mk(t, "$m4", "m.room.message", "@alice:example.org", 4*day+1000, nil, msg),
		)...)
		if _, err := st.OptOut(ctx, "@bob:example.org", store.OptOutByOperator); err != nil {
			t.Fatal(err)
		}
		days, err := st.RoomDays(ctx, room, 0, 10*day, 400)
		if err != nil || len(days) != 2 || days[0].Start.UnixMilli() != 1*day || days[1].Start.UnixMilli() != 4*day {
			t.Fatalf("RoomDays = %v, %v: want days 1 and 4", days, err)
		}
		if _, next, err := st.AdjacentMessages(ctx, room, 1*day, 2*day); err != nil || next != 4*day+1000 {
			t.Errorf("the day after day 1 = %d, %v: want day 4 (%d)", next, err, 4*day+1000)
		}
		if prev, _, err := st.AdjacentMessages(ctx, room, 4*day, 5*day); err != nil || prev != 1*day+1000 {
			t.Errorf("the day before day 4 = %d, %v: want day 1 (%d)", prev, err, 1*day+1000)
		}
		// Asked from a day the calendar passes over, as "go to date" asks.
		if prev, next, err := st.AdjacentMessages(ctx, room, 2*day, 3*day); err != nil || prev != 1*day+1000 || next != 4*day+1000 {
			t.Errorf("the days around day 2 = %d, %d, %v: want days 1 and 4", prev, next, err)
		}
	})
}
