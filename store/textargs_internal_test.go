package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"maunium.net/go/mautrix/id"
)

// TestTextArgsCleanEveryString: the PostgreSQL tracer cleans each
// argument of a string's kind, a named one too (id.RoomID), as dbText
// does, and leaves the others and clean strings as they are.
func TestTextArgsCleanEveryString(t *testing.T) {
	args := []any{"a\x00b", id.RoomID("!x\xff:example.org"), id.EventID("$ok"), "fine", 7, nil, []byte("\x00")}
	textArgs{}.TraceQueryStart(context.Background(), nil, pgx.TraceQueryStartData{SQL: "SELECT 1", Args: args})
	want := []any{"a\uFFFDb", "!x\uFFFD:example.org", id.EventID("$ok"), "fine", 7, nil, []byte("\x00")}
	for i := range want {
		if b, ok := want[i].([]byte); ok {
			if got, ok := args[i].([]byte); !ok || string(got) != string(b) {
				t.Errorf("argument %d = %#v, want %#v", i, args[i], want[i])
			}
			continue
		}
		if args[i] != want[i] {
			t.Errorf("argument %d = %#v, want %#v", i, args[i], want[i])
		}
	}
}
