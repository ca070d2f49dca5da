package event

import (
	"encoding/json"
	"testing"
)

// stringFieldByMap is how StringField read a member before it walked the
// bytes: the object decoded into a map.
func stringFieldByMap(obj json.RawMessage, key string) string {
	m, ok := objectFields(obj)
	if !ok {
		return ""
	}
	return stringField(m, key)
}

var stringFieldSeeds = []string{
	`{"membership":"join","displayname":"A"}`,
	`{"membership":"join","membership":"leave"}`,
	`{"membership":"leave","\u006dembership":"join"}`,
	`{"m\u0065mbership":"ban"}`,
	`{"membership":"j\u006fin"}`, `{"membership":"jo\"in"}`, "{\"membership\":\"jo\xffin\"}",
	"{\"membership\xff\":\"join\"}", "{\"membership\":\"join\xc3\"}",
	`{"membership":null}`, `{"membership":5}`, `{"membership":{"a":"join"}}`, `{"membership":["join"]}`,
	`{"membership":true}`, `{"Membership":"join"}`, `{"membership ":"join"}`,
	`{"a":"\"membership\":","membership":"invite"}`, `{"x":{"membership":"join"}}`,
	` { "membership" : "knock" } `, `{"membership":"join"`, `{"membership":"join"}x`, `{"membership":"join",}`,
	`null`, `[]`, `"membership"`, `5`, ``, `{}`, `{"membership":""}`,
	"{\"membership\":\"a\tb\"}", `{"membership":"\ud800"}`, `{"membership":"\u0000"}`,
}

// TestStringFieldAsMap: walking the bytes gives the map's answer.
func TestStringFieldAsMap(t *testing.T) {
	for _, s := range stringFieldSeeds {
		for _, key := range []string{"membership", "displayname", "a", ""} {
			if got, want := StringField(json.RawMessage(s), key), stringFieldByMap(json.RawMessage(s), key); got != want {
				t.Errorf("%q[%q]: %q, want %q", s, key, got, want)
			}
		}
	}
}

func FuzzStringFieldAsMap(f *testing.F) {
	for _, s := range stringFieldSeeds {
		f.Add([]byte(s), "membership")
	}
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		if got, want := StringField(b, key), stringFieldByMap(b, key); got != want {
			t.Errorf("%q[%q]: %q, want %q", b, key, got, want)
		}
	})
}
