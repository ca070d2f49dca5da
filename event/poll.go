package event

import (
	"encoding/json"
	"strings"

	"maunium.net/go/mautrix/id"
)

// Polls (MSC3381): a start event holds the question and its answers;
// responses (m.reference to the start) select answer IDs; an end event
// closes the poll. Both the stable m.poll.* names and the unstable
// org.matrix.msc3381.* ones (which Element still sends) are read. Clients
// send untrusted JSON, so parsing never fails on a field of the wrong
// type: the poll or the vote is dropped (a start) or spoiled (a response).

// Poll event types, stable and unstable.
const (
	TypePollStart            = "m.poll.start"
	TypePollResponse         = "m.poll.response"
	TypePollEnd              = "m.poll.end"
	TypePollStartUnstable    = "org.matrix.msc3381.poll.start"
	TypePollResponseUnstable = "org.matrix.msc3381.poll.response"
	TypePollEndUnstable      = "org.matrix.msc3381.poll.end"
)

// Poll limits from MSC3381: at most 20 answers, each answer ID at most
// 100 bytes (longer ones make the poll invalid), max_selections ≥ 1.
const (
	MaxPollAnswers  = 20
	maxPollAnswerID = 100
	maxPollText     = 1000 // a question or answer shown longer is cut
)

// IsPollStart, IsPollResponse and IsPollEnd tell the event types apart.
func IsPollStart(typ string) bool { return typ == TypePollStart || typ == TypePollStartUnstable }

func IsPollResponse(typ string) bool {
	return typ == TypePollResponse || typ == TypePollResponseUnstable
}

func IsPollEnd(typ string) bool { return typ == TypePollEnd || typ == TypePollEndUnstable }

// Poll is a poll's question and answers as its start event gives them.
type Poll struct {
	Question      string
	Answers       []PollAnswer
	MaxSelections int
	// Disclosed: voters see the results while the poll is open
	// (m.poll.disclosed); undisclosed polls show results once ended.
	Disclosed bool
}

// PollAnswer is one answer: its ID, used by responses, and its text.
type PollAnswer struct {
	ID   string
	Text string
}

// ParsePoll reads a poll start's content; ok is false when it is not a
// valid poll (no question, no answers, an answer without ID or text, a
// duplicate or overlong ID). More than MaxPollAnswers answers are cut
// there, as the MSC asks of clients.
func ParsePoll(content json.RawMessage) (Poll, bool) {
	fields, ok := objectFields(content)
	if !ok {
		return Poll{}, false
	}
	body, ok := objectFields(fields[TypePollStart])
	if !ok {
		if body, ok = objectFields(fields[TypePollStartUnstable]); !ok {
			return Poll{}, false
		}
	}
	var p Poll
	p.Question = extensibleText(body["question"])
	if p.Question == "" {
		return Poll{}, false
	}
	var kind string
	_ = json.Unmarshal(body["kind"], &kind)
	p.Disclosed = kind != "m.poll.undisclosed" && kind != "org.matrix.msc3381.poll.undisclosed"
	p.MaxSelections = 1
	var maxSel float64
	if json.Unmarshal(body["max_selections"], &maxSel) == nil && maxSel >= 1 {
		p.MaxSelections = int(min(maxSel, MaxPollAnswers))
	}
	var answers []json.RawMessage
	if err := json.Unmarshal(body["answers"], &answers); err != nil || len(answers) == 0 {
		return Poll{}, false
	}
	seen := map[string]bool{}
	for _, raw := range answers[:min(len(answers), MaxPollAnswers)] {
		a, ok := objectFields(raw)
		if !ok {
			return Poll{}, false
		}
		var ans PollAnswer
		if err := json.Unmarshal(a["id"], &ans.ID); err != nil || ans.ID == "" || len(ans.ID) > maxPollAnswerID || seen[ans.ID] {
			return Poll{}, false
		}
		seen[ans.ID] = true
		if ans.Text = extensibleText(raw); ans.Text == "" {
			return Poll{}, false
		}
		p.Answers = append(p.Answers, ans)
	}
	p.MaxSelections = min(p.MaxSelections, len(p.Answers))
	return p, true
}

// Text is the poll's words as search holds them: the question, then each
// answer, one to a line. Its votes are not in it: they change after it
// is indexed, and no two readers are shown the same ones.
func (p Poll) Text() string {
	var b strings.Builder
	b.WriteString(p.Question)
	for _, a := range p.Answers {
		b.WriteString("\n")
		b.WriteString(a.Text)
	}
	return b.String()
}

// extensibleText reads MSC1767 text: "m.text" (or the unstable
// "org.matrix.msc1767.text") as a string or as a list of {body, mimetype}
// representations (the plain one preferred), else a "body" string. The
// text is cut at maxPollText runes.
func extensibleText(raw json.RawMessage) string {
	fields, ok := objectFields(raw)
	if !ok {
		return ""
	}
	for _, key := range []string{"m.text", "org.matrix.msc1767.text", "body"} {
		v, ok := fields[key]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && strings.TrimSpace(s) != "" {
			return cutRunes(s, maxPollText)
		}
		var reps []struct {
			Body     string `json:"body"`
			MimeType string `json:"mimetype"`
		}
		if json.Unmarshal(v, &reps) == nil {
			for _, r := range reps {
				if (r.MimeType == "" || r.MimeType == "text/plain") && strings.TrimSpace(r.Body) != "" {
					return cutRunes(r.Body, maxPollText)
				}
			}
		}
	}
	return ""
}

func cutRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// PollSelections reads a response's selected answer IDs (stable
// "m.selections", or unstable "org.matrix.msc3381.poll.response":
// {"answers": […]}); nil when there are none or they are malformed.
func PollSelections(content json.RawMessage) []string {
	fields, ok := objectFields(content)
	if !ok {
		return nil
	}
	var sel []string
	if json.Unmarshal(fields["m.selections"], &sel) == nil && sel != nil {
		return sel
	}
	if resp, ok := objectFields(fields[TypePollResponseUnstable]); ok {
		if json.Unmarshal(resp["answers"], &sel) == nil {
			return sel
		}
	}
	return nil
}

// PollTally is a poll's result from its responses.
type PollTally struct {
	Votes  map[string]int // answer ID → votes
	Voters int            // users whose latest vote counts
	Ended  bool
	EndTS  int64
	// Winners are the answer IDs with the most votes, in the poll's order
	// (several on a tie, none without votes).
	Winners []string
}

// TallyPoll counts a poll's votes by MSC3381's rules: the poll ends at the
// first valid end event, one sent by the poll's creator or by someone whose
// power in the room (power) may redact others' events, as matrix-js-sdk's
// Poll.validateEndEvent judges it (an end from anyone else is ignored);
// only responses sent before the end count, each user's latest one (by
// origin_server_ts, then order given) replaces the earlier ones; a
// response's unknown answer IDs are dropped and only its first
// MaxSelections kept, and a response with no valid selection is spoiled,
// withdrawing that user's vote. related holds the responses and ends in
// any order.
func TallyPoll(p Poll, start *Event, related []*Event, power RoomPower) PollTally {
	t := PollTally{Votes: map[string]int{}}
	for _, e := range related {
		if IsPollEnd(e.Type) && (!t.Ended || e.OriginTS < t.EndTS) && (e.Sender == start.Sender || power.MayRedactOthers(e.Sender)) {
			t.Ended, t.EndTS = true, e.OriginTS
		}
	}
	valid := map[string]bool{}
	for _, a := range p.Answers {
		valid[a.ID] = true
	}
	type vote struct {
		ts  int64
		sel []string
	}
	latest := map[id.UserID]vote{}
	for _, e := range related {
		if !IsPollResponse(e.Type) || (t.Ended && e.OriginTS > t.EndTS) {
			continue
		}
		if prev, ok := latest[e.Sender]; ok && prev.ts > e.OriginTS {
			continue
		}
		var sel []string
		seen := map[string]bool{}
		for _, s := range PollSelections(e.Content) {
			if valid[s] && !seen[s] && len(sel) < p.MaxSelections {
				seen[s] = true
				sel = append(sel, s)
			}
		}
		latest[e.Sender] = vote{e.OriginTS, sel}
	}
	for _, v := range latest {
		if len(v.sel) == 0 {
			continue // spoiled
		}
		t.Voters++
		for _, s := range v.sel {
			t.Votes[s]++
		}
	}
	most := 0
	for _, n := range t.Votes {
		most = max(most, n)
	}
	for _, a := range p.Answers {
		if most > 0 && t.Votes[a.ID] == most {
			t.Winners = append(t.Winners, a.ID)
		}
	}
	return t
}
