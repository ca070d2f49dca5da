package meeting

import (
	"fmt"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// BenchmarkHostileMeeting is a meeting at the line cap where 2,000 people
// speak and every other line is a long #action: assigning actions to
// people must not cost actions × people × text.
func BenchmarkHostileMeeting(b *testing.B) {
	long := strings.Repeat("word ", 2000)
	lines := []Line{{EventID: "$s", Sender: "@owner:x", Name: "owner", Text: "#startmeeting", Command: true}}
	for i := 1; i < MaxLines; i++ {
		text := "hello"
		if i%2 == 0 {
			text = "#action p7 and owner " + long
		}
		lines = append(lines, Line{EventID: id.EventID(fmt.Sprintf("$%d", i)), Sender: id.UserID(fmt.Sprintf("@p%d:x", i%2000)),
			Name: fmt.Sprintf("p%d", i%2000), TS: int64(i), Text: text, Command: true})
	}
	b.ResetTimer()
	for range b.N {
		m, ok := At(lines, "$s")
		if !ok || len(m.Actions) != MaxLines/2-1 {
			b.Fatalf("%d actions", len(m.Actions))
		}
	}
}
