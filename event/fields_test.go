package event

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzTopLevelFields checks the hand-written scanner against encoding/json:
// wherever it accepts input, it must find exactly the members json.Unmarshal
// finds, with the same values.
func FuzzTopLevelFields(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x\"}y","c":{"d":[1,{"e":"}"}]},"f":null}`,
		` { "k" : true , "l" : [ ] } `,
		`{"event_\u0069d":"$x","\\":"\\"}`,
		`{}`, `[]`, `{"a":1,"a":2}`, `"s"`, `{"a":-1.5e+3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := topLevelFields(raw)
		if err != nil {
			return
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("scanner accepted what encoding/json rejects: %q: %v", raw, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d members, encoding/json finds %d", raw, len(got), len(want))
		}
		for k, w := range want {
			g, ok := got[k]
			if !ok || !bytes.Equal(bytes.TrimSpace(g), bytes.TrimSpace(w)) {
				t.Fatalf("%q: member %q = %q, encoding/json says %q", raw, k, g, w)
			}
		}
	})
}
