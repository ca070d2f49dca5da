package meeting

import (
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// FuzzExtract feeds lines of any text from three senders: extraction never
// panics, and the minutes hold together (people's lines add up, the owner
// is the first chair, every item is one of the meeting's lines).
func FuzzExtract(f *testing.F) {
	f.Add("#startmeeting x\n#chair b\n#topic t\n#action b does\n#undo\n#endmeeting", uint8(3))
	f.Add("[TOPIC] a\n#startmeeting\n#STARTMEETING\n#unchair a\nhttps://x\n#endmeeting", uint8(7))
	f.Add("#startmeeting\n#chair \u00e9\u0301 ,,;\n#meetingname \x00\n#info \xff", uint8(1))
	f.Fuzz(func(t *testing.T, text string, who uint8) {
		var lines []Line
		for i, s := range strings.Split(text, "\n") {
			n := int(who>>(i%4*2)) % 3
			lines = append(lines, Line{EventID: id.EventID(fmt.Sprintf("$%d", i)), Sender: id.UserID(fmt.Sprintf("@u%d:x", n)),
				Name: string(rune('a' + n)), TS: int64(i) * 1000, Text: s, Command: i%5 != 4})
		}
		ids := map[id.EventID]bool{}
		for _, l := range lines {
			ids[l.EventID] = true
		}
		for _, m := range Extract(lines) {
			sum := 0
			for _, p := range m.People {
				sum += p.Lines
			}
			if sum != m.Lines || len(m.Chairs) == 0 || m.Chairs[0].Sender != m.Owner.Sender || m.End < m.Start {
				t.Fatalf("inconsistent minutes: %+v", m)
			}
			for _, s := range m.Sections {
				for _, it := range append([]Item{s.Topic}, s.Items...) {
					if it.EventID != "" && !ids[it.EventID] {
						t.Fatalf("item from nowhere: %+v", it)
					}
				}
			}
		}
	})
}
