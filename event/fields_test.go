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

// objectSeeds are objects and non-objects for objectFields: escaped and
// invalid UTF-8 keys, duplicates, nesting, whitespace, and invalid JSON.
var objectSeeds = []string{
	`{"a":1,"b":"x\"}y","c":{"d":[1,{"e":"}"}]},"f":null}`, ` { "k" : true , "l" : [ ] } `,
	`{"event_\u0069d":"$x","\\":"\\"}`, `{}`, `[]`, `null`, `{"a":1,"a":2}`, `{"a":1,"\u0061":[2]}`, `"s"`, `{"a":-1.5e+3}`,
	"{\"\xff\":1,\"\xfe\":2}", "{\"a\xc3\xa9\":1,\"a\\u00e9\":2}", `{"a":1,}`, `{"a":1`, `{"a":01}`, `{"a":1} x`, ``, ` `,
	`{"a":{"b":{"c":{}}}}`, `{"m.relates_to":{"rel_type":"m.replace","event_id":"$e"},"m.new_content":{"body":"x"}}`,
}

// TestObjectFieldsAsUnmarshal and FuzzObjectFieldsAsUnmarshal: objectFields
// finds what json.Unmarshal into a map finds, and refuses what it refuses
// or what is not an object.
func TestObjectFieldsAsUnmarshal(t *testing.T) {
	for _, s := range append(objectSeeds, validSeeds...) {
		checkObjectFields(t, []byte(s))
	}
}

func FuzzObjectFieldsAsUnmarshal(f *testing.F) {
	for _, s := range append(objectSeeds, validSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(checkObjectFields)
}

func checkObjectFields(t *testing.T, raw []byte) {
	got, ok := objectFields(raw)
	var want map[string]json.RawMessage
	wantOK := json.Unmarshal(raw, &want) == nil && want != nil
	if ok != wantOK {
		t.Fatalf("%q: objectFields %v, json.Unmarshal %v", raw, ok, wantOK)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: %d members, encoding/json finds %d", raw, len(got), len(want))
	}
	for k, w := range want {
		if g, found := got[k]; !found || !bytes.Equal(g, w) {
			t.Fatalf("%q: member %q = %q, encoding/json says %q", raw, k, g, w)
		}
	}
}

// TestDecodeStringAsUnmarshal and FuzzDecodeStringAsUnmarshal: decodeString
// gives what json.Unmarshal into a string gives, the error too.
func TestDecodeStringAsUnmarshal(t *testing.T) {
	seeds := []string{`"plain"`, `""`, `"a\"b"`, `"a\\b"`, `"\u00e9"`, "\"\xff\"", "\"\xc3\xa9\"", "\"a\x01b\"", "\"tab\there\"",
		`"12345678\"abcdefgh"`, `"abcdefghijklmnop"`, `"abcdefgh"ijk"`, `null`, `1`, `true`, `[]`, `{}`, `"`, ``, ` "x"`, `"x" `, `"a"b"`}
	for _, s := range append(seeds, validSeeds...) {
		checkDecodeString(t, []byte(s))
	}
	everyByteAt := func(s string, from, places int) {
		for c := range 256 {
			for pos := range places {
				b := []byte(s)
				b[from+pos] = byte(c)
				checkDecodeString(t, b)
			}
		}
	}
	everyByteAt(`"abcdefghij"`, 1, 10)
	// Escapes, decoded by unescape: each kind, surrogate pairs whole,
	// halved, reversed and broken, escapes cut short or invalid, and every
	// byte at every place of a string with escapes before and after it.
	escaped := []string{`"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u00E9\u20AC"`, `"\u0000"`, `"\u001f"`, `"a\nb"`,
		`"\uD83D\uDE00"`, `"\ud83d\ude00x"`, `"\uD83D"`, `"\uDE00"`, `"\uD83Dx"`, `"\uD83D\u0041"`, `"\uD83D\uD83D\uDE00"`,
		`"\uDE00\uD83D"`, `"\uD83D\n"`, `"\uD83D\uZZZZ"`, `"\uD83D\u12"`, `"\uD83D\"`, `"\uD83D\\"`, `"\u12"`, `"\u12G4"`,
		`"\x"`, `"\'"`, `"\a"`, `"\U0041"`, `"abc\"`, `"a\\"`, `"\\\"`, `"\"a"b"`, "\"\\n\xff\"", "\"\\n\xc3\xa9\"",
		"\"\\n\x01\"", "\"\\n\x7f\"", "\"\\n\xed\xa0\x80\"", "\"\\n\xf4\x90\x80\x80\"", `"<p>a</p>\n<pre><code>x = \"1\"</code></pre>"`}
	for _, s := range escaped {
		checkDecodeString(t, []byte(s))
	}
	everyByteAt(`"\nabcdefghijkl\t"`, 3, 12)
}

func FuzzDecodeStringAsUnmarshal(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b"`, "\"\xff\"", `null`, `"abcdefgh"ijk"`, `"\uD83D\uDE00\n"`, `"\uD83D\u0041"`, `"a\tb\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(checkDecodeString)
}

func checkDecodeString(t *testing.T, v []byte) {
	var want string
	werr := json.Unmarshal(v, &want)
	got, err := decodeString(v)
	if (err != nil) != (werr != nil) || got != want {
		t.Fatalf("%q: decodeString %q, %v; json.Unmarshal %q, %v", v, got, err, want, werr)
	}
}
