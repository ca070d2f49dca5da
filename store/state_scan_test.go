package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// memberHistory is a room whose @bot joins and leaves n times, a day
// apart, as an IRC bot's or a flaky connection's member events pile up
// over the years; the events are "$bot0" to "$bot<n-1>".
func memberHistory(t *testing.T, n int) []store.Event {
	evs := baseRoom(t)
	for i := range n {
		membership := "join"
		if i%2 == 1 {
			membership = "leave"
		}
		evs = append(evs, mk(t, fmt.Sprintf("$bot%d", i), "m.room.member", "@bot:example.org", 10*dayMS+int64(i)*dayMS,
			sk("@bot:example.org"), fmt.Sprintf(`{"membership":%q}`, membership)))
	}
	return evs
}

// TestPreviousStateReadsFewEntries: the member event an early or a late
// join replaced is found with a few index reads, however many member
// events the user has. The bound on the earlier event was an OR, so both
// databases walked every later member event of the user first (an early
// join), and PostgreSQL, whose events_state did not end with nid, read and
// sorted every earlier one for ORDER BY origin_ts DESC, nid DESC (a late
// join): 45 to 300 ms a lookup for a user of 20,000 member events in the
// 1M replay. Counted on PostgreSQL (pgIndexBlocks); on SQLite the plan
// must bound origin_ts. The batch (PreviousMembership) reads no more than
// one lookup.
func TestPreviousStateReadsFewEntries(t *testing.T) {
	ctx := context.Background()
	const n = 3000
	t.Run("postgres", func(t *testing.T) {
		st := openPostgresOneConn(t)
		put(t, st, memberHistory(t, n)...)
		blocks := pgIndexBlocks(t, st)
		early, err := st.EventByID(ctx, "$bot100")
		if err != nil {
			t.Fatal(err)
		}
		reads := map[string]int64{}
		late, err := st.EventByID(ctx, "$bot2900")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			read func() (string, error)
			want string
		}{
			{"PreviousMembership of an early join", func() (string, error) {
				m, err := st.PreviousMembership(ctx, []store.Event{early})
				return string(m[early.ID]), err
			}, `"leave"`},
			{"PreviousMembership of a late join", func() (string, error) {
				m, err := st.PreviousMembership(ctx, []store.Event{late})
				return string(m[late.ID]), err
			}, `"leave"`},
			{"PreviousState of a late join", func() (string, error) {
				c, err := st.PreviousState(ctx, late)
				return string(c), err
			}, `"leave"`},
			{"PreviousState of an early join", func() (string, error) {
				c, err := st.PreviousState(ctx, early)
				return string(c), err
			}, `"leave"`},
		} {
			if _, err := c.read(); err != nil { // prepared and planned first
				t.Fatal(err)
			}
			before := blocks()
			got, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			read := blocks() - before
			t.Logf("%s: %d index blocks read", c.name, read)
			if !strings.Contains(got, c.want) {
				t.Errorf("%s: %s, want %s", c.name, got, c.want)
			}
			// A descent and a leaf or two; the user's 3,000 entries fill
			// some 40 leaves of either index that can answer. Two more
			// are the planner's: PostgreSQL keeps a B-tree's metapage only
			// once the tree has a root, and reads an empty one's
			// (events_votes and events_polls, no poll here) each time it
			// plans.
			if read > 10 {
				t.Errorf("%s: read %d index blocks: it went through the user's other member events", c.name, read)
			}
			reads[c.name] = read
		}
		// The batch is given each event's user, timestamp and nid, and
		// reads no more than the single lookup: it looked every event up
		// again by its ID, a descent of one more index (8 blocks, not 4).
		for _, when := range []string{"early", "late"} {
			if batch, one := reads["PreviousMembership of an "+when+" join"], reads["PreviousState of an "+when+" join"]; batch > one {
				t.Errorf("PreviousMembership of an %s join read %d index blocks, PreviousState %d", when, batch, one)
			}
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		st := storetest.Open(t, "sqlite")
		put(t, st, memberHistory(t, 10)...)
		// PreviousState's bound was planned as one already.
		bot5, err := st.EventByID(context.Background(), "$bot5")
		if err != nil {
			t.Fatal(err)
		}
		rows, args, err := store.MemberRows(st, []*store.Event{&bot5})
		if err != nil {
			t.Fatal(err)
		}
		if plan := queryPlan(t, st, fmt.Sprintf(store.PreviousMembershipSQL, rows), args...); !strings.Contains(plan, "origin_ts<") {
			t.Errorf("PreviousMembership does not bound origin_ts on events_state:\n%s", plan)
		}
	})
}
