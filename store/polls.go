package store

import (
	"context"
	"strconv"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
)

// MaxPollVoters bounds the voters PollVotes reads of a poll: the first
// MaxPollVoters by user ID. A voter is anyone who sent the poll a
// response or an end.
const MaxPollVoters = 1000

// votesPerVoter is how many of a voter's responses and ends PollVotes
// keeps, the latest to arrive. A vote is a user's latest response before
// the poll's end (event.TallyPoll), and few users send more than one.
const votesPerVoter = 4

// pollRefCond is what a poll's response or end (r) of the poll target in
// room is: events_votes's condition (migration 028), which both databases
// must read in the query to walk it.
func pollRefCond(target, room string) string {
	return `r.rel_target = ` + target + ` AND r.room_id = ` + room + ` AND r.rel_type = '` + event.RelReference + `'
		AND ` + relationKindCond[event.RelReference] + ` AND r.rel_target <> '' AND NOT r.redacted`
}

// pollVotersSQL lists the voters of each listed poll (t): a loose walk of
// events_votes, each voter found as the first after the one before (n
// counts them, up to MaxPollVoters), from the poll's own room. SQLite,
// which has no LATERAL, finds each in a subquery, NULL after the last;
// PostgreSQL shows no plan of such a subquery in a recursive query's
// step (EXPLAIN), so it joins them.
func pollVotersSQL(d dialect) string {
	first := `(SELECT r.sender FROM events r WHERE ` + pollRefCond("t.event_id", "t.room_id") + ` ORDER BY r.sender LIMIT 1)`
	next := `(SELECT r.sender FROM events r WHERE ` + pollRefCond("v.target", "v.room") + ` AND r.sender > v.sender ORDER BY r.sender LIMIT 1)`
	more := `v.n < ` + strconv.Itoa(MaxPollVoters)
	steps := `SELECT t.event_id, t.room_id, ` + first + `, 1 FROM t
		UNION ALL
		SELECT v.target, v.room, ` + next + `, v.n + 1 FROM v WHERE v.sender IS NOT NULL AND ` + more
	if d == postgres {
		steps = `SELECT t.event_id, t.room_id, f.sender, 1 FROM t CROSS JOIN LATERAL ` + first + ` f
		UNION ALL
		SELECT v.target, v.room, f.sender, v.n + 1 FROM v CROSS JOIN LATERAL ` + next + ` f WHERE ` + more
	}
	return `t AS (
		SELECT event_id, room_id FROM events WHERE idh(event_id) IN (%[2]s) AND event_id IN (%[1]s)
	), v (target, room, sender, n) AS (
		` + steps + `
	)`
}

// voterWalk is the query of a voter's (v) latest votesPerVoter responses
// and ends of the poll, public ones, on events_votes.
func voterWalk(cols string) string {
	return `SELECT ` + cols + ` FROM events r WHERE ` + pollRefCond("v.target", "v.room") + ` AND r.sender = v.sender AND r.public
		ORDER BY r.nid DESC LIMIT ` + strconv.Itoa(votesPerVoter)
}

// pollBytesBefore is bytesBefore over a poll's responses and ends.
var pollBytesBefore = bytesBefore(`octet_length(e.raw)`, `PARTITION BY e.rel_target ORDER BY e.nid DESC`)

// pollVotesSQL is PollVotes' query on PostgreSQL: each voter's latest
// responses and ends, up to the one whose JSON, with theirs that arrived
// after it, reaches MaxRelatedBytes, in timeline order.
var pollVotesSQL = `WITH RECURSIVE ` + pollVotersSQL(postgres) + `
	SELECT ` + eventColumns + ` FROM (
		SELECT e.*, ` + pollBytesBefore + `
		FROM v CROSS JOIN LATERAL (` + voterWalk(`r.*`) + `) e
	) votes WHERE ` + relatedBytesKept + `
	ORDER BY origin_ts, nid`

// sqlitePollVotesSQL is pollVotesSQL on SQLite, ranked without the JSON
// and then read by nid, as sqliteRelatedSQL.
var sqlitePollVotesSQL = `WITH RECURSIVE ` + pollVotersSQL(sqlite) + `
	SELECT ` + eventColumns + ` FROM (
		SELECT rnid FROM (
			SELECT e.nid AS rnid, e.origin_ts AS rts, ` + pollBytesBefore + `
			FROM v, events e
			WHERE v.sender IS NOT NULL AND e.nid IN (` + voterWalk(`r.nid`) + `)
		) WHERE ` + relatedBytesKept + `
		ORDER BY rts, rnid LIMIT -1
	) ranked CROSS JOIN events ON events.nid = ranked.rnid`

// PollVotes returns what event.TallyPoll counts of each listed poll: each
// voter's latest responses and ends (references of a poll's kind; the
// latest votesPerVoter of each voter to arrive), public, not redacted,
// from the poll's own room, of its first MaxPollVoters voters by user ID,
// in timeline order. Walked voter by voter (events_votes), one member's
// responses cannot push out another's: the latest MaxRelated references
// Related keeps were all a flooding member's, and the others' votes went
// uncounted. Their JSON is bounded as Related's (MaxRelatedBytes); a
// caller that got MaxPollVoters voters or that much JSON knows there may
// be more (PollVotesCapped).
func (s *Store) PollVotes(ctx context.Context, polls []id.EventID) ([]Event, error) {
	query := pollVotesSQL
	if s.dialect == sqlite {
		query = sqlitePollVotesSQL
	}
	return s.screenedIn(ctx, "poll votes", query, polls, false)
}

// PollVotesCapped says whether votes (as PollVotes returns them) may hold
// fewer of poll's voters than there are: MaxPollVoters of them, or
// MaxRelatedBytes of their JSON.
func PollVotesCapped(votes []Event, poll id.EventID) bool {
	voters, size := map[id.UserID]bool{}, 0
	for i := range votes {
		if votes[i].Rel.EventID == poll {
			voters[votes[i].Sender] = true
			size += len(votes[i].Raw)
		}
	}
	return len(voters) >= MaxPollVoters || size >= MaxRelatedBytes
}
