package event

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// contentByMap is how ContentOf read an event's content before it walked
// the bytes: the event decoded into a map by topLevelFields.
func contentByMap(raw []byte) json.RawMessage {
	m, err := topLevelFields(raw)
	if err != nil || !isObject(m["content"]) {
		return emptyObject()
	}
	return m["content"]
}

func contentSeeds() []string {
	seeds := append([]string{
		`{"content":{"body":"x"},"type":"m.room.message"}`, `{"content":{"a":1},"content":{"b":2}}`, `{"\u0063ontent":{"a":1}}`,
		`{"content":{"a":1},"\u0063ontent":{"b":2}}`, `{"content":"text"}`, `{"content":null}`, `{"content":[]}`, `{}`, `[]`, `5`, ``,
		`{"content":{"a":1}`, `{"content":{"a":"}"},"b":"{"}`, " \n{ \"content\" : { } } ", "{\"\xff\":1,\"\xfe\":2,\"content\":{}}",
		"{\"a\\u00e9\":1,\"a\xc3\xa9\":2,\"content\":{}}", `{"type":"x","body":{"content":{"nested":1}}}`,
		// The walk that finds the content also checks the JSON: what
		// follows the content, or the object, must be valid too.
		`{"content":{"a":1},"b":tru}`, `{"content":{"a":1}} x`, `{"content":{"a":1}}}`, `{"content":{"a":1},}`,
		`{"content" {"a":1}}`, `{"content":{"a":1} "b":2}`, `{"content":{"a":01}}`, "{\"content\":{\"a\":\"\x01\"}}",
		`{"b":[1,2,{"c":"\q"}],"content":{}}`, `{"content":{}`, `{"content":{},"content":`, `{ }`, `{ } }`,
		`{"content":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
		`{"content":{"deep":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}`,
		`{"content":{"deep":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}}`,
	}, validSeeds...)
	var many strings.Builder
	many.WriteString(`{`)
	for i := range 20 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	many.WriteString(`"content":{"late":true}}`)
	return append(seeds, many.String(), strings.Replace(many.String(), `"k3"`, `"k1"`, 1),
		strings.Replace(many.String(), `{"late":true}`, `{"late":tru}`, 1), many.String()+" x")
}

// TestContentOfAsMap: walking an event's bytes finds the content the map
// found, and none where the map refused the event.
func TestContentOfAsMap(t *testing.T) {
	for _, s := range contentSeeds() {
		if got, want := ContentOf([]byte(s)), contentByMap([]byte(s)); string(got) != string(want) {
			t.Errorf("%.80q: %s, want %s", s, got, want)
		}
	}
}

func FuzzContentOfAsMap(f *testing.F) {
	for _, s := range contentSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := ContentOf(b), contentByMap(b); string(got) != string(want) {
			t.Errorf("%q: %s, want %s", b, got, want)
		}
	})
}
