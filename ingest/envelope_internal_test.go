package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mxarchive/mxarchive/event"
)

func nest(levels int) string { return strings.Repeat("[", levels) + strings.Repeat("]", levels) }

// TestLeaveOutDeep: leaveOutDeep puts null in place of the array elements
// (events, in every envelope) nested past event.MaxDepth, wherever their
// array is, and leaves everything else byte for byte.
func TestLeaveOutDeep(t *testing.T) {
	atBound, pastBound := nest(event.MaxDepth), nest(event.MaxDepth+1)
	for _, tt := range []struct {
		name, body, want string
		n                int
	}{
		{"shallow", `{"events":[{"a":[1]},2]}`, `{"events":[{"a":[1]},2]}`, 0},
		{"at the bound", `{"events":[` + atBound + `]}`, `{"events":[` + atBound + `]}`, 0},
		{"past the bound", `{"events":[{"a":1},` + pastBound + `,{"b":2}]}`, `{"events":[{"a":1},null,{"b":2}]}`, 1},
		{"objects past the bound", `[` + strings.Repeat(`{"a":`, event.MaxDepth+1) + `1` + strings.Repeat(`}`, event.MaxDepth+1) + `]`, `[null]`, 1},
		{"past encoding/json's bound", `{"chunk":[` + nest(30000) + `],"end":"t2"}`, `{"chunk":[null],"end":"t2"}`, 1},
		{"deep in /sync", `{"rooms":{"join":{"!r:x":{"timeline":{"events":[` + pastBound + `,{}]}}}},"next_batch":"s1"}`,
			`{"rooms":{"join":{"!r:x":{"timeline":{"events":[null,{}]}}}},"next_batch":"s1"}`, 1},
		{"two", `[` + pastBound + `,` + pastBound + `]`, `[null,null]`, 2},
		{"brackets in strings", `{"a":"]]}}","events":["[[[[",{"b":"\"[{"}]}`, `{"a":"]]}}","events":["[[[[",{"b":"\"[{"}]}`, 0},
		{"escaped backslash before a quote", `{"a":"x\\\\","b":"\\\"[","events":[` + pastBound + `]}`, `{"a":"x\\\\","b":"\\\"[","events":[null]}`, 1},
		{"deep outside any array", strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat(`}`, 20000), strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat(`}`, 20000), 0},
		{"unbalanced", `{"events":[` + pastBound + `]}}}`, `{"events":[` + pastBound + `]}}}`, 0},
		{"unterminated", `{"events":[` + pastBound + `,"abc`, `{"events":[null,"abc`, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, n := leaveOutDeep([]byte(tt.body))
			if string(got) != tt.want || n != tt.n {
				t.Errorf("leaveOutDeep = %.80q, %d; want %.80q, %d", got, n, tt.want, tt.n)
			}
		})
	}
}

// FuzzLeaveOutDeep: what leaveOutDeep leaves of valid JSON is valid JSON,
// and it changes nothing unless it says so.
func FuzzLeaveOutDeep(f *testing.F) {
	for _, s := range []string{`{"events":[{"a":1},2]}`, `[` + nest(event.MaxDepth+1) + `]`, `{"a":"[\"]","b":[[]]}`, `]`, `"\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		got, n := leaveOutDeep(body)
		if !bytes.Equal(body, in) {
			t.Fatalf("leaveOutDeep changed its input")
		}
		if n == 0 && !bytes.Equal(got, body) {
			t.Fatalf("leaveOutDeep = %q, 0 replaced, from %q", got, body)
		}
		if json.Valid(body) && !json.Valid(got) {
			t.Fatalf("leaveOutDeep = %q, not JSON, from %q", got, body)
		}
	})
}
