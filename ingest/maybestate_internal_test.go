package ingest

import "testing"

// mayBeState passes over, unparsed, only what cannot be a state event: a
// key spelled with an escape may be "state_key"; an escape in a value
// (every formatted body Go's encoder writes) does not make a message
// read in a pass of state events.
func TestMayBeState(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want bool
	}{
		{`{"type":"m.room.topic","state_key":"","content":{}}`, true},
		{`{"type":"m.room.topic","state\u005fkey":"","content":{}}`, true},
		{`{"type":"m.room.topic","\u0073tate_key" : "","content":{}}`, true},
		{`{"type":"m.room.message","content":{"body":"hi"}}`, false},
		{`{"type":"m.room.message","content":{"formatted_body":"\u003cb\u003ehi\u003c/b\u003e","body":"hi \"quoted\\u\""}}`, false},
		{`{"type":"m.room.message","content":{"body":"\u00e9"},"unsigned":{}}`, false},
		{`{"type":"m.room.message","content":{"body":"ends in \u"`, false},
	} {
		if got := mayBeState([]byte(c.raw)); got != c.want {
			t.Errorf("mayBeState(%s) = %v; want %v", c.raw, got, c.want)
		}
	}
}
