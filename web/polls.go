package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/mxarchive/mxarchive/event"
	"github.com/mxarchive/mxarchive/store"
)

// Polls (MSC3381) in the timeline: the question and its answers, the
// votes while the poll is open if it discloses them, and the result once
// it has ended. The rules are event.TallyPoll's.

type pollView struct {
	ID         string
	Permalink  string
	Time       string
	DateTime   string
	TS         int64
	SenderName string
	SenderID   string
	Question   string
	Answers    []pollAnswerView
	Ended      bool
	EndedAt    string
	EndTS      int64
	// ShowVotes: disclosed polls show votes while open, all polls once
	// ended.
	ShowVotes bool
	Voters    int
	// Capped: store.MaxPollVoters voters were loaded, and there may be
	// more than counted.
	Capped bool
	// Oversized: store.MaxRelatedBytes of the votes' JSON were loaded,
	// and some voters' beyond store.PollVoterShare may be unread: said
	// apart from Capped, whose wording names the first voters by user
	// ID, which a few large responses of a small poll are not.
	Oversized bool
	Highlight bool
	// Invalid: the start's content is not a poll (event.ParsePoll), and
	// the poll is shown as one that cannot be shown, not left out: a day
	// whose only message it is is in the calendar (store.DayCounts), so
	// its page must show it.
	Invalid bool
}

type pollAnswerView struct {
	Text    string
	Votes   int
	Percent int
	Winner  bool
}

// polls builds the view of every poll start among evs, keyed by its
// event ID, loading all their responses and ends in one query: each
// voter's latest (store.PollVotes), so that no voter's flood of them
// leaves another's uncounted.
func (s *Server) polls(ctx context.Context, r store.Room, evs []store.Event, highlight id.EventID) (map[id.EventID]*pollView, error) {
	type start struct {
		ev   store.Event
		poll event.Poll
	}
	var starts []start
	var ids []id.EventID
	out := map[id.EventID]*pollView{}
	for _, e := range evs {
		// What is not a poll the store counts (store.shownPollCond) is
		// not one a page shows: an opted-out sender's and an expired one
		// have lost their content.
		if !e.PollStart() || e.Redacted || e.OptedOut || e.Expired {
			continue
		}
		if p, ok := event.ParsePoll(e.Content); ok {
			starts = append(starts, start{e, p})
			ids = append(ids, e.ID)
			continue
		}
		v := &pollView{ID: string(e.ID), Permalink: eventPath(r, e.ID), TS: e.OriginTS,
			SenderName: displayName(e.SenderName, e.Sender), SenderID: string(e.Sender), Highlight: e.ID == highlight, Invalid: true}
		v.Time, v.DateTime = fmtTime(e.OriginTS)
		out[e.ID] = v
	}
	if len(starts) == 0 {
		return out, nil
	}
	rel, err := s.store.PollVotes(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("poll responses: %w", err)
	}
	byPoll := map[id.EventID][]*event.Event{}
	for i := range rel {
		if rel[i].Rel.Type == event.RelReference && (event.IsPollResponse(rel[i].Type) || event.IsPollEnd(rel[i].Type)) {
			byPoll[rel[i].Rel.EventID] = append(byPoll[rel[i].Rel.EventID], &rel[i].Event)
		}
	}
	othersEnd := false
	for _, st := range starts {
		for _, e := range byPoll[st.ev.ID] {
			othersEnd = othersEnd || event.IsPollEnd(e.Type) && e.Sender != st.ev.Sender
		}
	}
	power, err := s.pollPower(ctx, r, othersEnd)
	if err != nil {
		return nil, err
	}
	for _, st := range starts {
		e := st.ev
		related := byPoll[e.ID]
		t := event.TallyPoll(st.poll, &e.Event, related, power)
		v := &pollView{
			ID: string(e.ID), Permalink: eventPath(r, e.ID), TS: e.OriginTS,
			SenderName: displayName(e.SenderName, e.Sender), SenderID: string(e.Sender),
			Question: st.poll.Question, Ended: t.Ended, ShowVotes: t.Ended || st.poll.Disclosed,
			Voters: t.Voters, Capped: store.PollVotersCapped(rel, e.ID), Oversized: store.PollVotesOversized(rel, e.ID),
			Highlight: e.ID == highlight,
		}
		v.Time, v.DateTime = fmtTime(e.OriginTS)
		if t.Ended {
			v.EndTS = t.EndTS
			v.EndedAt = fmtStamp(time.UnixMilli(t.EndTS))
		}
		winners := map[string]bool{}
		for _, w := range t.Winners {
			winners[w] = true
		}
		for _, a := range st.poll.Answers {
			av := pollAnswerView{Text: a.Text, Votes: t.Votes[a.ID], Winner: t.Ended && winners[a.ID]}
			if t.Voters > 0 {
				av.Percent = av.Votes * 100 / t.Voters
			}
			v.Answers = append(v.Answers, av)
		}
		out[e.ID] = v
	}
	return out, nil
}

// pollPower loads what TallyPoll needs to judge an end event sent by
// someone other than the poll's creator (need): the room's power levels
// and creators. It reads the room's current state, as matrix-js-sdk does
// (room.currentState), so a moderator demoted since no longer ends the
// poll here either, as in Element. Most polls are ended by their creator,
// and then nothing is read.
func (s *Server) pollPower(ctx context.Context, r store.Room, need bool) (event.RoomPower, error) {
	power := event.RoomPower{RoomVersion: r.Version}
	if !need {
		return power, nil
	}
	pl, err := s.store.CurrentState(ctx, r.ID, event.TypePowerLevels, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return power, fmt.Errorf("poll power levels: %w", err)
	}
	create, err := s.store.CurrentState(ctx, r.ID, event.TypeCreate, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return power, fmt.Errorf("poll room creators: %w", err)
	}
	power.PowerLevels, power.Creators = pl, event.Creators(r.Creator, create)
	return power, nil
}

// pollText is a poll's line in the text log, after its sender's name: its
// question and answers, their votes when the page shows them (the
// winners marked once it has ended), and its status, as the page says it.
func pollText(v *pollView) string {
	if v.Invalid {
		return "Poll: (" + invalidPoll + ")"
	}
	var b strings.Builder
	b.WriteString("Poll: " + logField(v.Question) + " [")
	for i, a := range v.Answers {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString(logField(a.Text))
		if v.ShowVotes {
			fmt.Fprintf(&b, ": %d %s (%d%%)", a.Votes, plural(a.Votes, "vote", "votes"), a.Percent)
		}
		if a.Winner {
			b.WriteString(" ✓ chosen")
		}
	}
	b.WriteString("] (")
	switch voters := fmt.Sprintf("%d %s", v.Voters, plural(v.Voters, "voter", "voters")); {
	case v.Ended:
		b.WriteString("ended at " + v.EndedAt + " · " + voters)
	case v.ShowVotes:
		b.WriteString("open · " + voters + " so far")
	default:
		b.WriteString("open · results are shown when the poll ends")
	}
	if v.Capped {
		fmt.Fprintf(&b, " · only the votes of the first %d voters by user ID were counted", store.MaxPollVoters)
	}
	if v.Oversized {
		b.WriteString(" · " + oversizedVotes)
	}
	b.WriteString(")")
	return b.String()
}

// invalidPoll is what a page says of a poll start whose content is not a
// poll (pollView.Invalid).
const invalidPoll = "this poll cannot be shown: its question or answers are missing or malformed"

// oversizedVotes is what a poll's status says when some of its voters
// sent more JSON than was read of them (pollView.Oversized).
const oversizedVotes = "some voters' responses were too large to read, and their votes may not be counted"

// plural is one if n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
