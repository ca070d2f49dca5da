package event

import (
	"encoding/json"
	"testing"
)

// mediaInfoByMap is how parseMediaInfo read content.info before it
// walked the bytes: the content decoded into a map.
func mediaInfoByMap(content json.RawMessage) MediaInfo {
	f, ok := objectFields(content)
	if !ok {
		return MediaInfo{}
	}
	info, ok := objectFields(f["info"])
	if !ok {
		return MediaInfo{}
	}
	num := func(key string) int64 {
		var n int64
		if json.Unmarshal(info[key], &n) != nil || n < 0 {
			return 0
		}
		return n
	}
	return MediaInfo{W: num("w"), H: num("h"), Size: num("size")}
}

var mediaInfoSeeds = []string{
	`{"msgtype":"m.image","body":"a.png","info":{"w":640,"h":480,"size":12345}}`,
	`{"info":{"w":1},"info":{"h":2}}`,
	`{"\u0069nfo":{"w":3},"body":"x"}`,
	`{"info":{"w":1},"\u0069nfo":{"w":4}}`,
	`{"body":{"info":{"w":9}},"x":[{"info":{"w":8}}]}`,
	`{"info":"big"}`, `{"info":null}`, `{"info":[1,2]}`, `{}`, `null`, `[]`, `"info"`, `5`,
	` { "info" : { "w" : -1 , "h" : 1e3, "size": 7.5 } } `,
	`{"in\"fo":{"w":1},"info ":{"w":2},"Info":{"w":3}}`,
	"{\"inf\xffo\":{\"w\":1},\"info\":{\"size\":\"1\"}}",
	`{"a":"}","info":{"w":"{"},"b":"\\\"","info":{"w":11}}`,
}

// TestMediaInfoAsMap: walking the content's bytes finds the info a map
// decode found, whatever the keys' escapes, repetition and nesting.
func TestMediaInfoAsMap(t *testing.T) {
	for _, c := range mediaInfoSeeds {
		if got, want := parseMediaInfo(json.RawMessage(c)), mediaInfoByMap(json.RawMessage(c)); got != want {
			t.Errorf("%s: %+v, want %+v", c, got, want)
		}
	}
}

func FuzzMediaInfoAsMap(f *testing.F) {
	for _, c := range mediaInfoSeeds {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, c string) {
		if !json.Valid([]byte(c)) {
			return // parseMediaInfo is only given content that decoded
		}
		if got, want := parseMediaInfo(json.RawMessage(c)), mediaInfoByMap(json.RawMessage(c)); got != want {
			t.Errorf("%s: %+v, want %+v", c, got, want)
		}
	})
}
