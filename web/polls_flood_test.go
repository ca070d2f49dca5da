package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/internal/storetest"
	"github.com/mxarchive/mxarchive/store"
)

// TestPollVotesSurviveLargeResponses: six accounts of one homeserver each
// send four responses of 90 KB after the poll's creator ended it. Before,
// the poll's votes were cut at store.MaxRelatedBytes over the whole poll,
// the latest to arrive first, so these 24 pushed out every earlier vote
// and the end: the poll of "ended, Yes 3 / No 0" showed "open, No 6 /
// Yes 0" and said only the votes of the first 1000 voters by user ID
// were counted, of nine voters. Now the honest votes and the end are
// read (each voter's share first, store.PollVoterShare), and the status
// says that some responses were too large to read, not the voter cap.
func TestPollVotesSurviveLargeResponses(t *testing.T) {
	start, end, vote := shipItPoll, shipItEnd, shipItVote
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, writeRoom(t,
			pollLine("$poll", "m.poll.start", "@b:example.org", 1767225601000, start),
			pollLine("$v1", "m.poll.response", "@c:example.org", 1767225602000, vote("y", "")),
			pollLine("$v2", "m.poll.response", "@d:example.org", 1767225603000, vote("y", "")),
			pollLine("$v3", "m.poll.response", "@f:example.org", 1767225604000, vote("y", "")),
			pollLine("$end", "m.poll.end", "@b:example.org", 1767225605000, end),
		))
		pad := strings.Repeat("x", 90*1024)
		var flood []string
		for u := range 6 {
			for i := range 4 {
				flood = append(flood, pollLine(fmt.Sprintf("$h%d_%d", u, i), "m.poll.response", fmt.Sprintf("@h%d:evil.example", u),
					1767225606000+int64(u*10+i), vote("n", pad)))
			}
		}
		e.addAtOnce(t, flood...)
		var api apiPoll
		decode(t, e.get(t, "/api/v1/events/$poll"), http.StatusOK, &api)
		if p := api.Poll; !p.Ended || p.Voters != 3 || len(p.Answers) != 2 || p.Answers[0].Votes != 3 || p.Answers[1].Votes != 0 || !p.Truncated {
			t.Errorf("API poll %+v after 24 large responses from 6 hostile accounts sent after the end: want ended, 3 voters, Yes 3 / No 0, responses truncated", p)
		}
		status := msgByID(e.page(t, "/room/!x:example.org/2026-01-01", http.StatusOK), "$poll").Find(".poll-status").Text()
		if !strings.HasPrefix(status, "Ended at") || !strings.Contains(status, "3 voters") || strings.Contains(status, "first 1000 voters") ||
			!strings.Contains(status, "too large to read") {
			t.Errorf("page status %q: want ended with 3 voters, that some responses were too large to read, and no word of the 1000-voter cap: the poll has 9 voters", status)
		}
		log := e.get(t, "/room/!x:example.org/2026-01-01.txt")
		want := "Poll: Ship it? [Yes: 3 votes (100%) ✓ chosen | No: 0 votes (0%)] (ended at 2026-01-01 00:00:05 UTC · 3 voters · some voters' responses were too large to read, and their votes may not be counted)"
		if log.Code != http.StatusOK || !strings.Contains(log.Body.String(), want) {
			t.Errorf("text log (%d):\n%s\nwant a line with %q", log.Code, log.Body, want)
		}
	})
}
