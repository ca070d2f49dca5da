package event

import (
	"encoding/json"
	"strings"
	"testing"
)

var validSeeds = []string{
	``, ` `, `{}`, `[]`, `{"a":1}`, ` {"a" : [1, 2.5e-3, -0, true, false, null, "x\"\\\/\b\f\n\r\t\u00e9"]} `,
	`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{,}`, `{"a":1 "b":2}`, `{1:2}`, `[1 2]`, `"`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`,
	"\"\x01\"", "\"\x7f\xff\xfe\"", `01`, `-`, `-01`, `1.`, `.5`, `1e`, `1e+`, `1E5`, `1.5E-07`, `+1`, `tru`, `true `, `nul`, `nulls`,
	`falsey`, `{"a":tru}`, "\t\n\r{}\n", `{"content":{"body":"x"}}{}`, `[[[]]]`, `[[[]]`, `{"a":{"b":{"c":[{}]}}}`, "{\"\xff\":1}",
	`{"content":{"msgtype":"m.text","body":"hello"},"event_id":"$e","origin_server_ts":1,"room_id":"!r:x","sender":"@a:x","type":"m.room.message"}`,
	strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth),
	strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1),
	strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth),
	strings.Repeat(`{"a":`, maxJSONDepth+1) + "1" + strings.Repeat("}", maxJSONDepth+1),
}

// TestValidJSONAsStdlib: validJSON says what json.Valid says.
func TestValidJSONAsStdlib(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("%.60q: validJSON %v, json.Valid %v", s, got, want)
		}
	}
	for c := range 256 {
		for _, s := range []string{string(rune(c)), `"` + string([]byte{byte(c)}) + `"`, `[1` + string([]byte{byte(c)}) + `]`, `"\` + string([]byte{byte(c)}) + `"`} {
			if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
				t.Errorf("%q: validJSON %v, json.Valid %v", s, got, want)
			}
		}
	}
}

func FuzzValidJSONAsStdlib(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Errorf("%q: validJSON %v, json.Valid %v", b, got, want)
		}
	})
}
