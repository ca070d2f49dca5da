package store_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPollVotesAreEachVotersLatest: PollVotes reads each voter's latest
// four responses and ends of a poll, whatever one of them sent; not a
// message saying it refers to the poll, nor a redacted response; and the
// other reads of relations (Related, RelatedIn) read no reference at all.
func TestPollVotesAreEachVotersLatest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ref := `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.selections":["y"]}`
		evs := append(baseRoom(t),
			mk(t, "$poll", "m.poll.start", "@alice:example.org", 2000, nil, `{"m.poll.start":{"question":{"m.text":"?"},"answers":[{"id":"y","m.text":"Yes"}]}}`),
			mk(t, "$b", "m.poll.response", "@bob:example.org", 2001, nil, ref),
			mk(t, "$c", "org.matrix.msc3381.poll.response", "@carol:example.org", 2002, nil, ref),
			mk(t, "$gone", "m.poll.response", "@dave:example.org", 2003, nil, ref),
			mk(t, "$x", "m.room.redaction", "@dave:example.org", 2004, nil, `{"redacts":"$gone"}`),
			mk(t, "$msg", "m.room.message", "@erin:example.org", 2005, nil, `{"msgtype":"m.text","body":"see the poll","m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`),
			mk(t, "$end", "m.poll.end", "@alice:example.org", 9000, nil, `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`),
		)
		for i := range store.MaxRelated + 100 {
			typ := "m.poll.response"
			if i%2 == 1 {
				typ = "m.poll.end"
			}
			evs = append(evs, mk(t, fmt.Sprintf("$m%d", i), typ, "@mallory:example.org", 3000+int64(i), nil, ref))
		}
		put(t, st, evs...)
		votes, err := st.PollVotes(ctx, []id.EventID{"$poll", "$b"})
		if err != nil {
			t.Fatal(err)
		}
		n := store.MaxRelated + 100
		want := []string{"$b", "$c", fmt.Sprintf("$m%d", n-4), fmt.Sprintf("$m%d", n-3), fmt.Sprintf("$m%d", n-2), fmt.Sprintf("$m%d", n-1), "$end"}
		if got := ids(votes); got != strings.Join(want, " ")+" " {
			t.Errorf("PollVotes = %s, want %v", got, want)
		}
		if store.PollVotesCapped(votes, "$poll") {
			t.Error("PollVotesCapped with four voters")
		}
		rel, err := st.Related(ctx, []id.EventID{"$poll"})
		if err != nil {
			t.Fatal(err)
		}
		day, _, err := st.DayPage(ctx, room, 0, 10000, store.Position{}, 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		in, err := st.RelatedIn(ctx, room, store.PositionOf(day[0]), store.PositionOf(day[len(day)-1]))
		if err != nil {
			t.Fatal(err)
		}
		if len(rel) != 0 || len(in) != 0 {
			t.Errorf("Related read %d references and RelatedIn %d, want none", len(rel), len(in))
		}
		if st.Dialect() != "postgres" {
			return
		}
		// Planned with the statistics an import leaves, PostgreSQL's
		// walk reads no node's worth of the flood: it did, a walk of
		// the poll's references sorted, when Related walked them on
		// events_votes.
		if err := st.AfterBulkWrite(ctx); err != nil {
			t.Fatal(err)
		}
		q := store.PollVotesQuery(st, "$poll")
		conn, err := st.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		plan := analyzedPlan(t, conn, "COSTS OFF, TIMING OFF", st.DBForm(q.Query), q.Args...)
		for _, m := range regexp.MustCompile(`(rows|Removed by \w+:) (\d+)`).FindAllStringSubmatch(plan, -1) {
			if n, _ := strconv.Atoi(m[2]); n >= 100 {
				t.Errorf("PollVotes reads %s %d: the flood:\n%s", m[1], n, plan)
				break
			}
		}
	})
}
