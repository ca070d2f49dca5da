package event

import (
	"encoding/json"
	"testing"
)

// messageByUnmarshal is how ParseMessage decoded content before it walked
// the bytes: encoding/json into Message, whose answers (errors included)
// it must keep.
func messageByUnmarshal(content json.RawMessage) (Message, error) {
	var m Message
	if err := json.Unmarshal(content, &m); err != nil {
		return Message{}, err
	}
	m.Info = parseMediaInfo(content)
	return m, nil
}

var parseMessageSeeds = []string{
	`{"msgtype":"m.text","body":"hello"}`,
	`{"msgtype":"m.text","body":"**b**","format":"org.matrix.custom.html","formatted_body":"<b>b</b>"}`,
	`{"msgtype":"m.image","body":"a.png","url":"mxc://x/y","filename":"a.png","info":{"w":640,"h":480,"size":12345}}`,
	`{"msgtype":"m.location","body":"here","geo_uri":"geo:1,2"}`,
	`{"msgtype":"m.text","body":"> <@a:x> q\n\nreply","m.relates_to":{"m.in_reply_to":{"event_id":"$e"}}}`,
	`{"body":"first","body":"second"}`,
	`{"body":"a","BODY":"b"}`, `{"Body":"b"}`, `{"bOdY":"c","body":"d"}`, `{"MsgType":"m.notice"}`,
	`{"FORMATTED_BODY":"<i>x</i>"}`, `{"geo_URI":"geo:0,0"}`,
	`{"\u0062ody":"escaped key"}`, `{"body":"esc\"aped \u00e9 \ud83d\ude00 \n"}`,
	`{"body":"lone \ud800 surrogate"}`, "{\"body\":\"bad \xff utf8\"}", "{\"b\xffody\":\"x\"}",
	`{"body":null}`, `{"body":"a","body":null}`, `{"body":5}`, `{"body":true}`, `{"body":["x"]}`, `{"body":{"x":1}}`,
	`{"msgtype":1,"body":"x"}`, `{"url":false}`, `{"filename":[]}`,
	`null`, `[]`, `"body"`, `5`, `{}`, ``, `{`, `{"body":"x"`, `{"body":"x",}`, `{"body" "x"}`,
	`{"body":"x"} trailing`, ` { "body" : "spaced" , "msgtype" : "m.emote" } `,
	`{"x":{"body":"nested"},"y":[{"body":"n"}],"body":"top"}`,
	`{"a":"}","b":"\\\"","body":"after tricky strings"}`,
	`{"body":"x","-":"dash","Info":"y","info":"not an object"}`,
	`{"body":"x","info":{"w":1,"h":2,"size":3},"info":{"w":4}}`, `{"info":{"w":1},"body":"x","info":null}`,
	`{"body":"x","info":{"w":-1,"h":2.5,"size":"9"}}`, `{"info":{"w":7},"Info":{"w":8},"body":"x"}`,
	`{"body":"\u0000 nul"}`, "{\"body\":\"raw\ttab\"}",
	`{"body":"x","n":-0.5e+3,"t":true,"f":false,"z":null,"a":[1,[2,{"c":3}]]}`,
	`{"body":"K"}`, `{"bodK":"x"}`, "{\"\u212abody\":\"kelvin\"}", "{\"ſ\":\"s\"}", "{\"geo_uri\":\"x\",\"geo_urı\":\"y\"}",
}

// TestParseMessageAsUnmarshal: ParseMessage answers as encoding/json does
// for every content, hostile ones too (keys differing only in case, keys
// twice, escapes, nulls, wrong types, invalid JSON and UTF-8).
func TestParseMessageAsUnmarshal(t *testing.T) {
	for _, c := range parseMessageSeeds {
		checkParseMessage(t, c)
	}
}

func FuzzParseMessageAsUnmarshal(f *testing.F) {
	for _, c := range parseMessageSeeds {
		f.Add(c)
	}
	f.Fuzz(checkParseMessage)
}

func checkParseMessage(t *testing.T, c string) {
	got, gotErr := ParseMessage(json.RawMessage(c))
	want, wantErr := messageByUnmarshal(json.RawMessage(c))
	if (gotErr != nil) != (wantErr != nil) || got != want {
		t.Errorf("%q: %+v (%v), want %+v (%v)", c, got, gotErr, want, wantErr)
	}
}
