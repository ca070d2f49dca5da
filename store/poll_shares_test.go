package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPollVotesKeepEachVotersShare: thirty accounts of one homeserver
// send a poll four responses of 90 KB each, after its creator ended it
// with an end of 94 KB, larger than any of theirs. Before, PollVotes cut
// the poll's JSON at MaxRelatedBytes, the latest to arrive first, and
// these pushed out every honest vote and the end. Now the creator's
// latest are read and every voter's up to PollVoterShare bytes, the
// largest shares left out first: each honest voter's votes (one changed
// her mind: both hers), and a voter whose latest is small but whose
// earlier response was large has the latest read. What is read stays
// within the bound, and the cut is told apart from the voter cap.
func TestPollVotesKeepEachVotersShare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ref := func(sel, pad string) string {
			return `{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"},"m.selections":["` + sel + `"],"pad":"` + pad + `"}`
		}
		big := strings.Repeat("x", 90*1024)
		evs := append(baseRoom(t),
			mk(t, "$poll", "m.poll.start", "@alice:example.org", 2000, nil, `{"m.poll.start":{"question":{"m.text":"?"},"answers":[{"id":"y","m.text":"Yes"},{"id":"n","m.text":"No"}]}}`),
			mk(t, "$b", "m.poll.response", "@bob:example.org", 2001, nil, ref("y", "")),
			mk(t, "$c1", "m.poll.response", "@carol:example.org", 2002, nil, ref("n", "")),
			mk(t, "$c2", "m.poll.response", "@carol:example.org", 2003, nil, ref("y", "")),
			mk(t, "$d1", "m.poll.response", "@dave:example.org", 2004, nil, ref("n", big)),
			mk(t, "$d2", "m.poll.response", "@dave:example.org", 2005, nil, ref("y", "")),
			mk(t, "$end", "m.poll.end", "@alice:example.org", 2006, nil, ref("", strings.Repeat("e", 94*1024))),
		)
		for u := range 30 {
			for i := range 4 {
				evs = append(evs, mk(t, fmt.Sprintf("$h%02d_%d", u, i), "m.poll.response", fmt.Sprintf("@h%02d:evil.example", u), 3000+int64(10*u+i), nil, ref("n", big)))
			}
		}
		put(t, st, evs...)
		votes, err := st.PollVotes(ctx, []id.EventID{"$poll"})
		if err != nil {
			t.Fatal(err)
		}
		read, size := map[id.EventID]bool{}, 0
		for _, v := range votes {
			read[v.ID] = true
			size += len(v.Raw)
		}
		for _, want := range []id.EventID{"$b", "$c1", "$c2", "$d2", "$end"} {
			if !read[want] {
				t.Errorf("PollVotes left out %s, read %s", want, ids(votes))
			}
		}
		if size >= store.MaxRelatedBytes+event.MaxEventSize {
			t.Errorf("PollVotes read %d bytes of JSON, want less than %d", size, store.MaxRelatedBytes+event.MaxEventSize)
		}
		if !store.PollVotesOversized(votes, "$poll") || store.PollVotersCapped(votes, "$poll") || !store.PollVotesCapped(votes, "$poll") {
			t.Errorf("PollVotesOversized %v, PollVotersCapped %v, PollVotesCapped %v with %d bytes read of 35 voters: want true, false, true",
				store.PollVotesOversized(votes, "$poll"), store.PollVotersCapped(votes, "$poll"), store.PollVotesCapped(votes, "$poll"), size)
		}
	})
}
