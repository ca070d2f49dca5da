package event

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseMXC(t *testing.T) {
	good := map[string]MXC{
		"mxc://example.org/abc_DEF-123": {"example.org", "abc_DEF-123"},
		"mxc://example.org:8448/x":      {"example.org:8448", "x"},
		"mxc://[::1]:8448/x":            {"[::1]:8448", "x"},
		"mxc://127.0.0.1/AbC":           {"127.0.0.1", "AbC"},
	}
	for in, want := range good {
		got, ok := ParseMXC(in)
		if !ok || got != want {
			t.Errorf("ParseMXC(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	// A hostile room member's URIs: none may reach another path or host.
	for _, in := range []string{
		"", "mxc://", "mxc://example.org", "mxc://example.org/", "https://example.org/x",
		"mxc://example.org/../../_synapse/admin", "mxc://example.org/a/b", "mxc://example.org/a?b",
		"mxc://example.org/a%2Fb", "mxc://evil.com@example.org/x", "mxc://example.org:80a/x",
		"mxc://example.org/a#b", "mxc://exa mple.org/x", "mxc://example.org:/x", "mxc://[::1/x",
		"mxc://example.org/" + string(make([]byte, 256)), "MXC://example.org/x", "mxc://example.org/x\n",
	} {
		if got, ok := ParseMXC(in); ok {
			t.Errorf("ParseMXC(%q) accepted: %v", in, got)
		}
	}
}

func TestMediaRefs(t *testing.T) {
	cases := []struct {
		typ, content string
		want         []MXC
	}{
		{TypeMessage, `{"msgtype":"m.image","body":"a.png","url":"mxc://hs/a","info":{"thumbnail_url":"mxc://hs/t"}}`, []MXC{{"hs", "a"}, {"hs", "t"}}},
		{TypeSticker, `{"body":"s","url":"mxc://hs/s","info":{"thumbnail_url":"mxc://hs/s"}}`, []MXC{{"hs", "s"}}},
		{TypeMessage, `{"msgtype":"m.text","body":"x","url":"mxc://hs/a"}`, nil},
		{TypeMessage, `{"msgtype":"m.file","body":"x","url":"mxc://hs/../a","info":"bad"}`, nil},
		{TypeMessage, `{"msgtype":"m.file","body":"x","file":{"url":"mxc://hs/enc"}}`, nil},
		{TypeMessage, `{"msgtype":"m.video","url":42,"info":{"thumbnail_url":"mxc://hs/t"}}`, []MXC{{"hs", "t"}}},
		{TypeMessage, `{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":{"msgtype":"m.image","url":"mxc://hs/b"}}`, []MXC{{"hs", "a"}, {"hs", "b"}}},
		// An edit's own fields are a fallback no page shows (helper-95).
		{TypeMessage, `{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":{"msgtype":"m.text","body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$e"}}`, nil},
		{TypeMessage, `{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":{"msgtype":"m.image","url":"mxc://hs/b"},"m.relates_to":{"rel_type":"m.replace","event_id":"$e"}}`, []MXC{{"hs", "b"}}},
		{TypeMessage, `{"msgtype":"m.image","url":"mxc://hs/a","m.relates_to":{"rel_type":"m.replace"}}`, []MXC{{"hs", "a"}}},
		{TypeReaction, `{"url":"mxc://hs/a"}`, nil},
		{TypeMessage, `[1]`, nil},
	}
	for _, c := range cases {
		if got := MediaRefs(c.typ, json.RawMessage(c.content)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("MediaRefs(%s, %s) = %v; want %v", c.typ, c.content, got, c.want)
		}
	}
}
