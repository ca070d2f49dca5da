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
// counts them, up to MaxPollVoters), from the poll's own room, each with
// the poll's creator (pollShare). SQLite, which has no LATERAL, finds
// each in a subquery, NULL after the last; PostgreSQL shows no plan of
// such a subquery in a recursive query's step (EXPLAIN), so it joins
// them.
func pollVotersSQL(d dialect) string {
	first := `(SELECT r.sender FROM events r WHERE ` + pollRefCond("t.event_id", "t.room_id") + ` ORDER BY r.sender LIMIT 1)`
	next := `(SELECT r.sender FROM events r WHERE ` + pollRefCond("v.target", "v.room") + ` AND r.sender > v.sender ORDER BY r.sender LIMIT 1)`
	more := `v.n < ` + strconv.Itoa(MaxPollVoters)
	steps := `SELECT t.event_id, t.room_id, t.sender, ` + first + `, 1 FROM t
		UNION ALL
		SELECT v.target, v.room, v.creator, ` + next + `, v.n + 1 FROM v WHERE v.sender IS NOT NULL AND ` + more
	if d == postgres {
		steps = `SELECT t.event_id, t.room_id, t.sender, f.sender, 1 FROM t CROSS JOIN LATERAL ` + first + ` f
		UNION ALL
		SELECT v.target, v.room, v.creator, f.sender, v.n + 1 FROM v CROSS JOIN LATERAL ` + next + ` f WHERE ` + more
	}
	return `t AS (
		SELECT event_id, room_id, sender FROM events WHERE idh(event_id) IN (%[2]s) AND event_id IN (%[1]s)
	), v (target, room, creator, sender, n) AS (
		` + steps + `
	)`
}

// voterWalk is the query of a voter's (v) latest votesPerVoter responses
// and ends of the poll, public ones, on events_votes.
func voterWalk(cols string) string {
	return `SELECT ` + cols + ` FROM events r WHERE ` + pollRefCond("v.target", "v.room") + ` AND r.sender = v.sender AND r.public
		ORDER BY r.nid DESC LIMIT ` + strconv.Itoa(votesPerVoter)
}

// pollShare is the key by which PollVotes keeps a poll's responses and
// ends up to MaxRelatedBytes of their JSON: a voter's own bytes up to
// and including each of theirs (length, summed over window: a voter's,
// the latest to arrive first), and 0 for the poll's creator's (mine), so
// that each voter's latest come before anyone's older or larger ones.
// Cut by arrival over the whole poll, six accounts' 24 responses of 90
// KB sent after the creator ended it pushed out every earlier vote and
// the end, and the poll showed open with their votes alone. Now the
// creator's are always read, whose end ends the poll (event.TallyPoll;
// four events, at most 384 KiB: event.MaxEventSize), and so is every
// voter's latest up to PollVoterShare (1,703 bytes: the voters before
// them hold no more each), whoever sends what: an honest response is a
// few hundred bytes.
func pollShare(mine, length, window string) string {
	return `CASE WHEN ` + mine + ` THEN 0 ELSE SUM(` + length + `) OVER (` + window + ` ROWS UNBOUNDED PRECEDING) END`
}

// pollBytesBefore is bytesBefore over a poll's responses and ends, in
// the order of their pollShare (share), the latest to arrive first
// among equal shares.
func pollBytesBefore(length, target, share, nid string) string {
	return bytesBefore(length, `PARTITION BY `+target+` ORDER BY `+share+`, `+nid+` DESC`)
}

// pollVotesSQL is PollVotes' query on PostgreSQL: each voter's latest
// responses and ends, by pollShare up to the one whose JSON, with theirs
// before it, reaches MaxRelatedBytes, in timeline order. A voter's share
// is summed within their walk, in the walk's order.
var pollVotesSQL = `WITH RECURSIVE ` + pollVotersSQL(postgres) + `
	SELECT ` + eventColumns + ` FROM (
		SELECT e.*, ` + pollBytesBefore(`octet_length(e.raw)`, `e.rel_target`, `e.share`, `e.nid`) + `
		FROM v CROSS JOIN LATERAL (
			SELECT w.*, ` + pollShare(`v.sender = v.creator`, `octet_length(w.raw)`, `ORDER BY w.nid DESC`) + ` AS share
			FROM (` + voterWalk(`r.*`) + `) w
		) e
	) votes WHERE ` + relatedBytesKept + `
	ORDER BY origin_ts, nid`

// sqlitePollVotesSQL is pollVotesSQL on SQLite, ranked without the JSON
// and then read by nid, as sqliteRelatedSQL: the lengths are columns of
// the walk, so that neither window carries the JSON through its sort
// (bytesBefore).
var sqlitePollVotesSQL = `WITH RECURSIVE ` + pollVotersSQL(sqlite) + `
	SELECT ` + eventColumns + ` FROM (
		SELECT rnid FROM (
			SELECT rnid, rts, ` + pollBytesBefore(`rlen`, `rtarget`, `rshare`, `rnid`) + ` FROM (
				SELECT rnid, rts, rtarget, rlen,
					` + pollShare(`rmine`, `rlen`, `PARTITION BY rtarget, rsender ORDER BY rnid DESC`) + ` AS rshare
				FROM (
					SELECT e.nid AS rnid, e.origin_ts AS rts, e.rel_target AS rtarget, e.sender AS rsender,
						v.sender = v.creator AS rmine, octet_length(e.raw) AS rlen
					FROM v, events e
					WHERE v.sender IS NOT NULL AND e.nid IN (` + voterWalk(`r.nid`) + `)
				)
			)
		) WHERE ` + relatedBytesKept + `
		ORDER BY rts, rnid LIMIT -1
	) ranked CROSS JOIN events ON events.nid = ranked.rnid`

// PollVoterShare is how much of each voter's latest JSON PollVotes
// always reads of a poll, whatever the other voters send: MaxRelatedBytes
// less its creator's latest responses and ends (at most 4 ×
// event.MaxEventSize), over MaxPollVoters (pollShare).
const PollVoterShare = (MaxRelatedBytes - votesPerVoter*event.MaxEventSize) / MaxPollVoters

// PollVotes returns what event.TallyPoll counts of each listed poll: each
// voter's latest responses and ends (references of a poll's kind; the
// latest votesPerVoter of each voter to arrive), public, not redacted,
// from the poll's own room, of its first MaxPollVoters voters by user ID,
// in timeline order. Walked voter by voter (events_votes), one member's
// responses cannot push out another's: the latest MaxRelated references
// Related keeps were all a flooding member's, and the others' votes went
// uncounted. Their JSON is bounded as Related's (MaxRelatedBytes), the
// largest shares of it left out first (pollShare): the creator's latest
// are read, and each voter's up to PollVoterShare bytes. A caller that
// got MaxPollVoters voters or that much JSON knows there may be more
// (PollVotersCapped, PollVotesOversized).
func (s *Store) PollVotes(ctx context.Context, polls []id.EventID) ([]Event, error) {
	query := pollVotesSQL
	if s.dialect == sqlite {
		query = sqlitePollVotesSQL
	}
	return s.screenedIn(ctx, "poll votes", query, polls, false)
}

// PollVotesCapped says whether votes (as PollVotes returns them) may hold
// fewer of poll's votes than there are: PollVotersCapped or
// PollVotesOversized.
func PollVotesCapped(votes []Event, poll id.EventID) bool {
	return PollVotersCapped(votes, poll) || PollVotesOversized(votes, poll)
}

// PollVotersCapped says whether votes hold MaxPollVoters of poll's voters,
// and others' votes may be unread. A reader is told which cap it was:
// when large responses of nine voters were cut, the page said only the
// votes of the first 1000 voters by user ID were counted.
func PollVotersCapped(votes []Event, poll id.EventID) bool {
	voters, _ := pollVotesRead(votes, poll)
	return voters >= MaxPollVoters
}

// PollVotesOversized says whether votes hold MaxRelatedBytes of poll's
// JSON, and some voters' beyond their PollVoterShare may be unread (their
// votes, or their latest, uncounted).
func PollVotesOversized(votes []Event, poll id.EventID) bool {
	_, size := pollVotesRead(votes, poll)
	return size >= MaxRelatedBytes
}

// pollVotesRead is how many voters of poll votes holds, and their JSON.
func pollVotesRead(votes []Event, poll id.EventID) (voters, size int) {
	seen := map[id.UserID]bool{}
	for i := range votes {
		if votes[i].Rel.EventID == poll {
			seen[votes[i].Sender] = true
			size += len(votes[i].Raw)
		}
	}
	return len(seen), size
}
