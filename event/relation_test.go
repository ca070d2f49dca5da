package event

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"maunium.net/go/mautrix/id"
)

func TestParseRelation(t *testing.T) {
	long := strings.Repeat("a", 300)
	// 255 ASCII bytes then a 2-byte rune straddling the 256-byte limit.
	straddle := strings.Repeat("a", 255) + "é" + "tail"
	// 64 four-byte emoji fill the 256 bytes exactly; the 65th goes.
	emoji := strings.Repeat("😀", 65)
	// A four-byte emoji starting at byte 254 is dropped whole.
	emojiStraddle := strings.Repeat("a", 254) + "😀"
	tests := []struct {
		name    string
		content string
		want    Relation
	}{
		{"empty content", ``, Relation{}},
		{"invalid JSON", `{"m.relates_to":`, Relation{}},
		{"content not an object", `["m.relates_to"]`, Relation{}},
		{"no relation", `{"body":"hi"}`, Relation{}},
		{"relates_to a string", `{"m.relates_to":"$e"}`, Relation{}},
		{"relates_to an array", `{"m.relates_to":[{"rel_type":"m.replace","event_id":"$e"}]}`, Relation{}},
		{"relates_to null", `{"m.relates_to":null}`, Relation{}},
		{
			"edit",
			`{"m.new_content":{"body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`,
			Relation{Type: RelReplace, EventID: "$orig"},
		},
		{
			"reference",
			`{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`,
			Relation{Type: RelReference, EventID: "$poll"},
		},
		{
			"reaction",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":"👍"}}`,
			Relation{Type: RelAnnotation, EventID: "$msg", Key: "👍"},
		},
		{
			"reaction key truncated",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":"` + long + `"}}`,
			Relation{Type: RelAnnotation, EventID: "$msg", Key: long[:256]},
		},
		{
			"reaction key truncated on a rune boundary",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":"` + straddle + `"}}`,
			Relation{Type: RelAnnotation, EventID: "$msg", Key: strings.Repeat("a", 255)},
		},
		{
			"reaction key of emoji truncated to whole emoji",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":"` + emoji + `"}}`,
			Relation{Type: RelAnnotation, EventID: "$msg", Key: strings.Repeat("😀", 64)},
		},
		{
			"reaction key with a four-byte rune straddling the limit",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":"` + emojiStraddle + `"}}`,
			Relation{Type: RelAnnotation, EventID: "$msg", Key: strings.Repeat("a", 254)},
		},
		{
			"reaction without key is invalid",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg"}}`,
			Relation{},
		},
		{
			"reaction with empty key is invalid",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":""}}`,
			Relation{},
		},
		{
			"reaction key not a string",
			`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$msg","key":1}}`,
			Relation{},
		},
		{
			"key ignored on other relation types",
			`{"m.relates_to":{"rel_type":"m.reference","event_id":"$e","key":"k"}}`,
			Relation{Type: RelReference, EventID: "$e"},
		},
		{
			"plain reply",
			`{"body":"> <@a:x> hi\n\nyo","m.relates_to":{"m.in_reply_to":{"event_id":"$parent"}}}`,
			Relation{ReplyTo: "$parent"},
		},
		{
			"thread message with reply fallback",
			`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$latest"}}}`,
			Relation{Type: RelThread, EventID: "$root"},
		},
		{
			"real reply inside a thread",
			`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":false,"m.in_reply_to":{"event_id":"$other"}}}`,
			Relation{Type: RelThread, EventID: "$root", ReplyTo: "$other"},
		},
		{
			"thread reply without is_falling_back is real",
			`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","m.in_reply_to":{"event_id":"$other"}}}`,
			Relation{Type: RelThread, EventID: "$root", ReplyTo: "$other"},
		},
		{
			"is_falling_back that is not a boolean counts as false",
			`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":"true","m.in_reply_to":{"event_id":"$other"}}}`,
			Relation{Type: RelThread, EventID: "$root", ReplyTo: "$other"},
		},
		{
			"is_falling_back only matters for threads",
			`{"m.relates_to":{"rel_type":"m.reference","event_id":"$e","is_falling_back":true,"m.in_reply_to":{"event_id":"$p"}}}`,
			Relation{Type: RelReference, EventID: "$e", ReplyTo: "$p"},
		},
		{
			"thread fallback with a broken root is still a fallback",
			`{"m.relates_to":{"rel_type":"m.thread","event_id":5,"is_falling_back":true,"m.in_reply_to":{"event_id":"$latest"}}}`,
			Relation{},
		},
		{
			"unstable thread type",
			`{"m.relates_to":{"rel_type":"io.element.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$l"}}}`,
			Relation{Type: RelThread, EventID: "$root"},
		},
		{
			"unknown rel_type keeps the reply",
			`{"m.relates_to":{"rel_type":"org.example.custom","event_id":"$e","m.in_reply_to":{"event_id":"$p"}}}`,
			Relation{ReplyTo: "$p"},
		},
		{
			"rel_type not a string",
			`{"m.relates_to":{"rel_type":["m.replace"],"event_id":"$e","m.in_reply_to":{"event_id":"$p"}}}`,
			Relation{ReplyTo: "$p"},
		},
		{
			"event_id not a string",
			`{"m.relates_to":{"rel_type":"m.replace","event_id":{"id":"$e"}}}`,
			Relation{},
		},
		{
			"event_id without $",
			`{"m.relates_to":{"rel_type":"m.replace","event_id":"!room:x"}}`,
			Relation{},
		},
		{
			"event_id only $",
			`{"m.relates_to":{"rel_type":"m.replace","event_id":"$"}}`,
			Relation{},
		},
		{
			"event_id too long",
			`{"m.relates_to":{"rel_type":"m.replace","event_id":"$` + strings.Repeat("a", 255) + `"}}`,
			Relation{},
		},
		{
			"in_reply_to not an object",
			`{"m.relates_to":{"m.in_reply_to":"$p"}}`,
			Relation{},
		},
		{
			"in_reply_to event_id not a string",
			`{"m.relates_to":{"m.in_reply_to":{"event_id":12}}}`,
			Relation{},
		},
		{
			"v3 event IDs with / and +",
			`{"m.relates_to":{"rel_type":"m.replace","event_id":"$a/b+c","m.in_reply_to":{"event_id":"$d+e/f"}}}`,
			Relation{Type: RelReplace, EventID: "$a/b+c", ReplyTo: "$d+e/f"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseRelation(json.RawMessage(tt.content))
			if got != tt.want {
				t.Errorf("ParseRelation = %+v, want %+v", got, tt.want)
			}
			if !utf8.ValidString(got.Key) || len(got.Key) > MaxAnnotationKey {
				t.Errorf("Key %q is not valid UTF-8 of at most %d bytes", got.Key, MaxAnnotationKey)
			}
		})
	}
}

func FuzzParseRelation(f *testing.F) {
	f.Add([]byte(`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$l"}}}`))
	f.Add([]byte(`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":"👍"}}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		r := ParseRelation(content)
		if (r.Type == "") != (r.EventID == "") {
			t.Fatalf("Type and EventID disagree: %+v", r)
		}
		if r.Key != "" && r.Type != RelAnnotation {
			t.Fatalf("Key on a non-annotation: %+v", r)
		}
		if len(r.Key) > MaxAnnotationKey || !utf8.ValidString(r.Key) {
			t.Fatalf("bad key %q", r.Key)
		}
	})
}

func TestNewContent(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
		wantOK  bool
	}{
		{"object", `{"body":"* new","m.new_content":{"body":"new","msgtype":"m.text"}}`, `{"body":"new","msgtype":"m.text"}`, true},
		{"empty object", `{"m.new_content":{}}`, `{}`, true},
		{"missing", `{"body":"x"}`, ``, false},
		{"array", `{"m.new_content":[{"body":"x"}]}`, ``, false},
		{"string", `{"m.new_content":"new"}`, ``, false},
		{"null", `{"m.new_content":null}`, ``, false},
		{"content not an object", `[{"m.new_content":{}}]`, ``, false},
		{"invalid JSON", `{"m.new_content":{`, ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NewContent(json.RawMessage(tt.content))
			if ok != tt.wantOK || string(got) != tt.want {
				t.Errorf("NewContent = %s, %v; want %s, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestValidEdit(t *testing.T) {
	original := func() *Event {
		return &Event{
			ID: "$orig", RoomID: "!r:x", Sender: "@a:x", Type: TypeMessage, OriginTS: 1,
			Content: json.RawMessage(`{"msgtype":"m.text","body":"helo"}`),
		}
	}
	edit := func() *Event {
		return &Event{
			ID: "$edit", RoomID: "!r:x", Sender: "@a:x", Type: TypeMessage, OriginTS: 2,
			Content: json.RawMessage(`{"msgtype":"m.text","body":"* hello","m.new_content":{"msgtype":"m.emote","body":"hello"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`),
		}
	}
	stateKey := ""
	tests := []struct {
		name   string
		change func(orig, edit *Event) (*Event, *Event)
		want   bool
	}{
		{"valid, msgtype may change", func(o, e *Event) (*Event, *Event) { return o, e }, true},
		{"nil original", func(o, e *Event) (*Event, *Event) { return nil, e }, false},
		{"nil edit", func(o, e *Event) (*Event, *Event) { return o, nil }, false},
		{"other room", func(o, e *Event) (*Event, *Event) { e.RoomID = "!other:x"; return o, e }, false},
		{"other sender", func(o, e *Event) (*Event, *Event) { e.Sender = "@mallory:x"; return o, e }, false},
		{"other sender on the same server", func(o, e *Event) (*Event, *Event) { e.Sender = "@b:x"; return o, e }, false},
		{"other type", func(o, e *Event) (*Event, *Event) { e.Type = TypeSticker; return o, e }, false},
		{"original is state", func(o, e *Event) (*Event, *Event) { o.StateKey = &stateKey; return o, e }, false},
		{"edit is state", func(o, e *Event) (*Event, *Event) { e.StateKey = &stateKey; return o, e }, false},
		{"original is itself an edit", func(o, e *Event) (*Event, *Event) {
			o.Content = json.RawMessage(`{"body":"x","m.new_content":{"body":"y"},"m.relates_to":{"rel_type":"m.replace","event_id":"$older"}}`)
			return o, e
		}, false},
		{"original is a reply: fine", func(o, e *Event) (*Event, *Event) {
			o.Content = json.RawMessage(`{"body":"x","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`)
			return o, e
		}, true},
		{"original in a thread: fine", func(o, e *Event) (*Event, *Event) {
			o.Content = json.RawMessage(`{"body":"x","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`)
			return o, e
		}, true},
		{"no m.new_content", func(o, e *Event) (*Event, *Event) {
			e.Content = json.RawMessage(`{"body":"* x","m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`)
			return o, e
		}, false},
		{"m.new_content not an object", func(o, e *Event) (*Event, *Event) {
			e.Content = json.RawMessage(`{"body":"* x","m.new_content":"x","m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`)
			return o, e
		}, false},
		{"edit points elsewhere", func(o, e *Event) (*Event, *Event) {
			e.Content = json.RawMessage(`{"m.new_content":{},"m.relates_to":{"rel_type":"m.replace","event_id":"$else"}}`)
			return o, e
		}, false},
		{"edit is not a replace", func(o, e *Event) (*Event, *Event) {
			e.Content = json.RawMessage(`{"m.new_content":{},"m.relates_to":{"rel_type":"m.reference","event_id":"$orig"}}`)
			return o, e
		}, false},
		{"edit of itself", func(o, e *Event) (*Event, *Event) { e.ID = "$orig"; return o, e }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, e := tt.change(original(), edit())
			if got := ValidEdit(o, e); got != tt.want {
				t.Errorf("ValidEdit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApplyEdit(t *testing.T) {
	tests := []struct {
		name       string
		original   string
		newContent string
		want       string
	}{
		{
			name:       "replaced wholesale",
			original:   `{"msgtype":"m.text","body":"helo","format":"org.matrix.custom.html","formatted_body":"<b>helo</b>"}`,
			newContent: `{"msgtype":"m.emote","body":"hello <3 & bye"}`,
			want:       `{"body":"hello <3 & bye","msgtype":"m.emote"}`,
		},
		{
			name:       "original relation kept",
			original:   `{"body":"x","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`,
			newContent: `{"body":"y"}`,
			want:       `{"body":"y","m.relates_to":{"m.in_reply_to":{"event_id":"$p"}}}`,
		},
		{
			name:       "relation in new content ignored",
			original:   `{"body":"x"}`,
			newContent: `{"body":"y","m.relates_to":{"rel_type":"m.thread","event_id":"$hijack"}}`,
			want:       `{"body":"y"}`,
		},
		{
			name:       "original relation wins over new one",
			original:   `{"body":"x","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`,
			newContent: `{"body":"y","m.relates_to":{"rel_type":"m.thread","event_id":"$hijack"}}`,
			want:       `{"body":"y","m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}`,
		},
		{
			name:       "new content not an object leaves the original",
			original:   `{"body":"x"}`,
			newContent: `"y"`,
			want:       `{"body":"x"}`,
		},
		{
			name:       "new content invalid leaves the original",
			original:   `{"body":"x"}`,
			newContent: `{"body":`,
			want:       `{"body":"x"}`,
		},
		{
			name:       "original not an object",
			original:   `[]`,
			newContent: `{"body":"y","m.relates_to":{}}`,
			want:       `{"body":"y"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ApplyEdit(json.RawMessage(tt.original), json.RawMessage(tt.newContent))
			if string(got) != tt.want {
				t.Errorf("ApplyEdit = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLatestEdit(t *testing.T) {
	ev := func(eventID id.EventID, ts int64) *Event { return &Event{ID: eventID, OriginTS: ts} }
	tests := []struct {
		name  string
		edits []*Event
		want  id.EventID // "" means nil
	}{
		{"none", nil, ""},
		{"only nil", []*Event{nil, nil}, ""},
		{"one", []*Event{ev("$a", 5)}, "$a"},
		{"highest timestamp", []*Event{ev("$z", 1), ev("$a", 3), ev("$m", 2)}, "$a"},
		{"tie goes to the largest ID", []*Event{ev("$b", 3), ev("$c", 3), ev("$a", 3)}, "$c"},
		{"tie regardless of order", []*Event{ev("$c", 3), ev("$b", 3)}, "$c"},
		{"nil entries skipped", []*Event{nil, ev("$a", 1), nil}, "$a"},
		{"IDs compare bytewise", []*Event{ev("$B", 1), ev("$a", 1)}, "$a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LatestEdit(tt.edits)
			var gotID id.EventID
			if got != nil {
				gotID = got.ID
			}
			if gotID != tt.want {
				t.Errorf("LatestEdit = %q, want %q", gotID, tt.want)
			}
		})
	}
}
