package event

import (
	"encoding/json"
	"fmt"
	"testing"

	"maunium.net/go/mautrix/id"
)

const pollStable = `{"m.poll.start":{"question":{"m.text":"Lunch?"},"kind":"m.poll.disclosed","max_selections":1,
	"answers":[{"id":"a","m.text":"Pizza"},{"id":"b","m.text":[{"mimetype":"text/html","body":"<b>Soup</b>"},{"body":"Soup"}]},{"id":"c","m.text":"Salad"}]}}`

const pollUnstable = `{"org.matrix.msc3381.poll.start":{"question":{"org.matrix.msc1767.text":"Which?"},"kind":"org.matrix.msc3381.poll.undisclosed","max_selections":2,
	"answers":[{"id":"x","org.matrix.msc1767.text":"X"},{"id":"y","org.matrix.msc1767.text":"Y"}]},"org.matrix.msc1767.text":"Which?\n1. X\n2. Y"}`

func TestParsePoll(t *testing.T) {
	for name, tc := range map[string]struct {
		content string
		ok      bool
		want    string
	}{
		"stable":              {pollStable, true, `Lunch? [{a Pizza} {b Soup} {c Salad}] max 1 disclosed true`},
		"unstable":            {pollUnstable, true, `Which? [{x X} {y Y}] max 2 disclosed false`},
		"no question":         {`{"m.poll.start":{"answers":[{"id":"a","m.text":"A"}]}}`, false, ""},
		"no answers":          {`{"m.poll.start":{"question":{"m.text":"Q"},"answers":[]}}`, false, ""},
		"answer without text": {`{"m.poll.start":{"question":{"m.text":"Q"},"answers":[{"id":"a"}]}}`, false, ""},
		"duplicate id":        {`{"m.poll.start":{"question":{"m.text":"Q"},"answers":[{"id":"a","m.text":"A"},{"id":"a","m.text":"B"}]}}`, false, ""},
		"question wrong type": {`{"m.poll.start":{"question":"Q","answers":[{"id":"a","m.text":"A"}]}}`, false, ""},
		"not an object":       {`[1]`, false, ""},
		"max too big":         {`{"m.poll.start":{"question":{"m.text":"Q"},"max_selections":99,"answers":[{"id":"a","m.text":"A"}]}}`, true, `Q [{a A}] max 1 disclosed true`},
	} {
		t.Run(name, func(t *testing.T) {
			p, ok := ParsePoll(json.RawMessage(tc.content))
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if got := fmt.Sprintf("%s %v max %d disclosed %v", p.Question, p.Answers, p.MaxSelections, p.Disclosed); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func vote(sender string, ts int64, content string) *Event {
	return &Event{Type: TypePollResponse, Sender: id.UserID(sender), OriginTS: ts, Content: json.RawMessage(content)}
}

func TestTallyPoll(t *testing.T) {
	p, _ := ParsePoll(json.RawMessage(pollStable))
	start := &Event{ID: "$p", Sender: "@owner:x", OriginTS: 100}
	end := func(sender string, ts int64) *Event {
		return &Event{Type: TypePollEndUnstable, Sender: id.UserID(sender), OriginTS: ts}
	}
	for name, tc := range map[string]struct {
		related []*Event
		want    string
	}{
		"latest vote per user counts": {[]*Event{
			vote("@u:x", 110, `{"m.selections":["a"]}`), vote("@u:x", 120, `{"m.selections":["b"]}`), vote("@v:x", 115, `{"m.selections":["b"]}`),
		}, "map[b:2] voters 2 ended false winners [b]"},
		"order given does not matter": {[]*Event{
			vote("@u:x", 120, `{"m.selections":["b"]}`), vote("@u:x", 110, `{"m.selections":["a"]}`),
		}, "map[b:1] voters 1 ended false winners [b]"},
		"unstable response": {[]*Event{
			{Type: TypePollResponseUnstable, Sender: "@u:x", OriginTS: 110, Content: json.RawMessage(`{"org.matrix.msc3381.poll.response":{"answers":["c"]}}`)},
		}, "map[c:1] voters 1 ended false winners [c]"},
		"votes after the end do not count": {[]*Event{
			vote("@u:x", 110, `{"m.selections":["a"]}`), end("@owner:x", 130), vote("@v:x", 140, `{"m.selections":["b"]}`), vote("@u:x", 150, `{"m.selections":["c"]}`),
		}, "map[a:1] voters 1 ended true winners [a]"},
		"an end from someone else is ignored": {[]*Event{
			end("@mallory:x", 105), vote("@u:x", 110, `{"m.selections":["a"]}`),
		}, "map[a:1] voters 1 ended false winners [a]"},
		"unknown answers and extra selections dropped": {[]*Event{
			vote("@u:x", 110, `{"m.selections":["zz","b","a"]}`),
		}, "map[b:1] voters 1 ended false winners [b]"},
		"a spoiled vote withdraws the earlier one": {[]*Event{
			vote("@u:x", 110, `{"m.selections":["a"]}`), vote("@u:x", 120, `{"m.selections":["nope"]}`), vote("@v:x", 120, `{"m.selections":"a"}`),
		}, "map[] voters 0 ended false winners []"},
		"tie": {[]*Event{
			vote("@u:x", 110, `{"m.selections":["c"]}`), vote("@v:x", 110, `{"m.selections":["a"]}`),
		}, "map[a:1 c:1] voters 2 ended false winners [a c]"},
	} {
		t.Run(name, func(t *testing.T) {
			tl := TallyPoll(p, start, tc.related, RoomPower{})
			if got := fmt.Sprintf("%v voters %d ended %v winners %v", tl.Votes, tl.Voters, tl.Ended, tl.Winners); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestTallyPollModeratorEnd: besides the poll's creator, anyone whose
// power may redact others' events (MSC3381; matrix-js-sdk's
// validateEndEvent) may end a poll; anyone else's end is ignored.
func TestTallyPollModeratorEnd(t *testing.T) {
	p, _ := ParsePoll(json.RawMessage(pollStable))
	start := &Event{ID: "$p", Sender: "@owner:x", OriginTS: 100}
	end := func(sender string, ts int64) *Event {
		return &Event{Type: TypePollEnd, Sender: id.UserID(sender), OriginTS: ts}
	}
	pl := func(s string) json.RawMessage { return json.RawMessage(s) }
	related := func(ender string) []*Event {
		return []*Event{vote("@u:x", 110, `{"m.selections":["a"]}`), end(ender, 120), vote("@v:x", 130, `{"m.selections":["b"]}`)}
	}
	const ended, open = "ended true at 120 map[a:1]", "ended false at 0 map[a:1 b:1]"
	for name, tc := range map[string]struct {
		ender string
		power RoomPower
		want  string
	}{
		"moderator at the redact level":      {"@mod:x", RoomPower{"10", pl(`{"users":{"@mod:x":50}}`), []id.UserID{"@owner:x"}}, ended},
		"redact level lowered":               {"@mod:x", RoomPower{"10", pl(`{"redact":20,"users":{"@mod:x":20}}`), nil}, ended},
		"below the redact level":             {"@mod:x", RoomPower{"10", pl(`{"redact":60,"users":{"@mod:x":50}}`), nil}, open},
		"random member":                      {"@mallory:x", RoomPower{"10", pl(`{"users":{"@mod:x":50}}`), nil}, open},
		"users_default high enough":          {"@mallory:x", RoomPower{"10", pl(`{"users_default":50}`), nil}, ended},
		"room creator without power levels":  {"@founder:x", RoomPower{"10", nil, []id.UserID{"@founder:x"}}, ended},
		"member without power levels":        {"@mallory:x", RoomPower{"10", nil, []id.UserID{"@founder:x"}}, open},
		"v12 additional creator":             {"@co:x", RoomPower{"12", pl(`{"users":{}}`), []id.UserID{"@founder:x", "@co:x"}}, ended},
		"additional creator before v12":      {"@co:x", RoomPower{"11", pl(`{"users":{}}`), []id.UserID{"@founder:x", "@co:x"}}, open},
		"malformed power levels fail closed": {"@mod:x", RoomPower{"10", pl(`{"users":{"@mod:x":"lots"}}`), nil}, open},
		"redact level malformed":             {"@mod:x", RoomPower{"10", pl(`{"redact":[1],"users":{"@mod:x":100}}`), nil}, open},
		"no power known":                     {"@mod:x", RoomPower{}, open},
		// The creator always may, even where the power levels would not
		// let them redact (MSC3381: "the poll creator or").
		"creator below the redact level": {"@owner:x", RoomPower{"10", pl(`{"redact":100,"users":{"@owner:x":0}}`), nil}, ended},
	} {
		t.Run(name, func(t *testing.T) {
			tl := TallyPoll(p, start, related(tc.ender), tc.power)
			if got := fmt.Sprintf("ended %v at %d %v", tl.Ended, tl.EndTS, tl.Votes); got != tc.want {
				t.Errorf("got %s\nwant %s", got, tc.want)
			}
		})
	}
	// The first valid end counts: an earlier end by someone without power
	// neither ends the poll nor hides a later valid one.
	power := RoomPower{"10", pl(`{"users":{"@mod:x":50}}`), nil}
	tl := TallyPoll(p, start, []*Event{end("@mallory:x", 105), vote("@u:x", 110, `{"m.selections":["a"]}`), end("@mod:x", 140), end("@owner:x", 150)}, power)
	if !tl.Ended || tl.EndTS != 140 || tl.Votes["a"] != 1 {
		t.Errorf("first valid end: ended %v at %d, votes %v", tl.Ended, tl.EndTS, tl.Votes)
	}
}

func FuzzParsePoll(f *testing.F) {
	f.Add([]byte(pollStable))
	f.Add([]byte(pollUnstable))
	f.Add([]byte(`{"m.poll.start":{"question":{"m.text":[{"body":"q"}]},"answers":[{"id":"a","body":"A"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := ParsePoll(b)
		if !ok {
			return
		}
		if p.Question == "" || len(p.Answers) == 0 || len(p.Answers) > MaxPollAnswers || p.MaxSelections < 1 || p.MaxSelections > len(p.Answers) {
			t.Fatalf("invalid poll accepted: %+v", p)
		}
		TallyPoll(p, &Event{Sender: "@a:x"}, []*Event{{Type: TypePollResponse, Sender: "@b:x", Content: b}}, RoomPower{})
	})
}
