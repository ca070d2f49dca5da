package event

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"math/rand/v2"
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

// TestValidStringWordAtATime: a string's bytes are looked at eight at a
// time (specialBytes), so every byte value is put at every place of a
// string long enough for two words and a tail, among ordinary bytes and
// bytes of multi-byte UTF-8, and the verdict is json.Valid's.
func TestValidStringWordAtATime(t *testing.T) {
	fillers := []string{"abcdefghijklmnopqrst", "\xc3\xa9\xc3\xa9\xe2\x82\xac\xe2\x82\xac\xff\xfe\x80\x7f~ !#[]{}"}
	for _, fill := range fillers {
		for pos := range len(fill) {
			for c := range 256 {
				b := []byte(fill)
				b[pos] = byte(c)
				for _, s := range []string{`"` + string(b) + `"`, `"` + string(b[:pos+1]) + `\n"`, `{"k":"` + string(b) + `","content":{}}`} {
					if got, want := validJSON([]byte(s)), json.Valid([]byte(s)); got != want {
						t.Errorf("%q: validJSON %v, json.Valid %v", s, got, want)
					}
				}
			}
		}
	}
}

// TestSpecialBytes: the lowest byte specialBytes marks is the first '"',
// '\\' or control character of the word, and it marks none in a word
// without one.
func TestSpecialBytes(t *testing.T) {
	special := func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }
	rng := rand.New(rand.NewPCG(1, 2))
	word := make([]byte, 8)
	check := func() {
		first := 8
		for k, c := range word {
			if special(c) {
				first = k
				break
			}
		}
		m := specialBytes(binary.LittleEndian.Uint64(word))
		got := 8
		if m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != first {
			t.Fatalf("% x: first marked byte %d, want %d (mask %#x)", word, got, first, m)
		}
	}
	for range 200000 {
		for k := range word {
			word[k] = byte(rng.IntN(256))
		}
		check()
	}
	for pos := range 8 {
		for c := range 256 {
			for k := range word {
				word[k] = byte(0x20 + rng.IntN(0xe0)) // no control bytes
				if special(word[k]) {
					word[k] = 'a'
				}
			}
			word[pos] = byte(c)
			check()
			word[(pos+3)%8] = 0 // a second one, before or after
			check()
		}
	}
}
