package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// validEvent is a minimal, valid client-format message event.
const validEvent = `{"event_id":"$ev1:example.org","room_id":"!room:example.org","sender":"@alice:example.org","type":"m.room.message","origin_server_ts":1700000000000,"content":{"msgtype":"m.text","body":"hello <b>&"}}`

// withField returns validEvent with key set to the raw JSON value, or
// removed when value is "".
func withField(t *testing.T, key, value string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validEvent), &m); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseValid(t *testing.T) {
	stateKey := func(s string) *string { return &s }
	tests := []struct {
		name            string
		raw             []byte
		want            Event // Raw, Content and RedactedBecause are checked separately
		wantContent     string
		wantRaw         string // "" means: identical to the input
		wantRedactedBec string
	}{
		{
			name: "message",
			raw:  []byte(validEvent),
			want: Event{
				ID: "$ev1:example.org", RoomID: "!room:example.org", Sender: "@alice:example.org",
				Type: TypeMessage, OriginTS: 1700000000000,
			},
			wantContent: `{"msgtype":"m.text","body":"hello <b>&"}`,
		},
		{
			name: "state event with empty state key",
			raw:  withField(t, "state_key", `""`),
			want: Event{
				ID: "$ev1:example.org", RoomID: "!room:example.org", Sender: "@alice:example.org",
				Type: TypeMessage, OriginTS: 1700000000000, StateKey: stateKey(""),
			},
			wantContent: `{"body":"hello <b>&","msgtype":"m.text"}`,
		},
		{
			name: "null state key is not state",
			raw:  withField(t, "state_key", `null`),
			want: Event{
				ID: "$ev1:example.org", RoomID: "!room:example.org", Sender: "@alice:example.org",
				Type: TypeMessage, OriginTS: 1700000000000,
			},
			wantContent: `{"body":"hello <b>&","msgtype":"m.text"}`,
		},
		{
			name: "pre-v11 redaction with top-level redacts",
			raw:  []byte(`{"event_id":"$r","room_id":"!r:x","sender":"@m:x","type":"m.room.redaction","origin_server_ts":5,"redacts":"$target","content":{"reason":"spam"}}`),
			want: Event{
				ID: "$r", RoomID: "!r:x", Sender: "@m:x", Type: TypeRedaction, OriginTS: 5, Redacts: "$target",
			},
			wantContent: `{"reason":"spam"}`,
		},
		{
			name: "null redacts",
			raw:  []byte(`{"event_id":"$r","room_id":"!r:x","sender":"@m:x","type":"m.room.redaction","origin_server_ts":5,"redacts":null,"content":{}}`),
			want: Event{
				ID: "$r", RoomID: "!r:x", Sender: "@m:x", Type: TypeRedaction, OriginTS: 5,
			},
			wantContent: `{}`,
		},
		{
			name: "unsigned stripped and redacted_because captured",
			raw: []byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"m.room.message","origin_server_ts":7,"content":{},` +
				`"unsigned":{"age":12,"redacted_because":{"event_id":"$r","type":"m.room.redaction","content":{"reason":"<spam>"}}}}`),
			want: Event{
				ID: "$e", RoomID: "!r:x", Sender: "@a:x", Type: TypeMessage, OriginTS: 7,
			},
			wantContent:     `{}`,
			wantRaw:         `{"content":{},"event_id":"$e","origin_server_ts":7,"room_id":"!r:x","sender":"@a:x","type":"m.room.message"}`,
			wantRedactedBec: `{"event_id":"$r","type":"m.room.redaction","content":{"reason":"<spam>"}}`,
		},
		{
			name: "unsigned not an object is still stripped",
			raw:  []byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":0,"content":{"b":"<i>"},"unsigned":"junk"}`),
			want: Event{
				ID: "$e", RoomID: "!r:x", Sender: "@a:x", Type: "t",
			},
			wantContent: `{"b":"<i>"}`,
			wantRaw:     `{"content":{"b":"<i>"},"event_id":"$e","origin_server_ts":0,"room_id":"!r:x","sender":"@a:x","type":"t"}`,
		},
		{
			name: "redacted_because that is not an object is ignored",
			raw:  []byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":0,"content":{},"unsigned":{"redacted_because":"$r"}}`),
			want: Event{
				ID: "$e", RoomID: "!r:x", Sender: "@a:x", Type: "t",
			},
			wantContent: `{}`,
			wantRaw:     `{"content":{},"event_id":"$e","origin_server_ts":0,"room_id":"!r:x","sender":"@a:x","type":"t"}`,
		},
		{
			name: "whitespace around values",
			raw:  []byte(" {\"event_id\" : \"$e\", \"room_id\":\"!r:x\",\"sender\":\"@a:x\",\"type\":\"t\",\"origin_server_ts\": 3 ,\"content\" :  { \"a\" : 1 } }\n"),
			want: Event{
				ID: "$e", RoomID: "!r:x", Sender: "@a:x", Type: "t", OriginTS: 3,
			},
			wantContent: `{ "a" : 1 }`,
		},
		{
			name: "v12 room ID without a server",
			raw:  []byte(`{"event_id":"$abc_-","room_id":"!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM","sender":"@a:x","type":"t","origin_server_ts":1,"content":{}}`),
			want: Event{
				ID: "$abc_-", RoomID: "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM", Sender: "@a:x", Type: "t", OriginTS: 1,
			},
			wantContent: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.raw)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.ID != tt.want.ID || got.RoomID != tt.want.RoomID || got.Sender != tt.want.Sender ||
				got.Type != tt.want.Type || got.OriginTS != tt.want.OriginTS || got.Redacts != tt.want.Redacts {
				t.Errorf("Parse = %+v, want %+v", got, tt.want)
			}
			if (got.StateKey == nil) != (tt.want.StateKey == nil) ||
				(got.StateKey != nil && *got.StateKey != *tt.want.StateKey) {
				t.Errorf("StateKey = %v, want %v", got.StateKey, tt.want.StateKey)
			}
			if got.IsState() != (tt.want.StateKey != nil) {
				t.Errorf("IsState = %v", got.IsState())
			}
			assertSameJSON(t, "Content", got.Content, tt.wantContent)
			wantRaw := tt.wantRaw
			if wantRaw == "" {
				if !bytes.Equal(got.Raw, tt.raw) {
					t.Errorf("Raw = %s, want the input unchanged", got.Raw)
				}
			} else if string(got.Raw) != wantRaw {
				t.Errorf("Raw = %s, want %s", got.Raw, wantRaw)
			}
			if fields, _ := objectFields(got.Raw); fields["unsigned"] != nil {
				t.Errorf("Raw still has unsigned: %s", got.Raw)
			}
			if tt.wantRedactedBec == "" {
				if got.RedactedBecause != nil {
					t.Errorf("RedactedBecause = %s, want nil", got.RedactedBecause)
				}
			} else if string(got.RedactedBecause) != tt.wantRedactedBec {
				t.Errorf("RedactedBecause = %s, want %s", got.RedactedBecause, tt.wantRedactedBec)
			}
		})
	}
}

// TestParseKeepsContentBytes guards the promise that Content is the exact
// bytes received, not a re-encoding.
func TestParseKeepsContentBytes(t *testing.T) {
	raw := []byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":1,"content":{"z":1,"a":"\u00e9<"},"unsigned":{}}`)
	e, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z":1,"a":"\u00e9<"}`; string(e.Content) != want {
		t.Errorf("Content = %s, want %s", e.Content, want)
	}
	// The copy must not alias the input.
	raw[bytes.Index(raw, []byte(`"z"`))+1] = 'Z'
	if bytes.Contains(e.Content, []byte("Z")) {
		t.Error("Content aliases the input buffer")
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		wantErr string // a substring naming the problem
	}{
		{"empty input", []byte(``), "not a JSON object"},
		{"not JSON", []byte(`{"event_id":`), "not a JSON object"},
		{"trailing garbage", []byte(validEvent + ` x`), "not a JSON object"},
		{"array", []byte(`[1,2]`), "not a JSON object"},
		{"null", []byte(`null`), "not a JSON object"},
		{"string", []byte(`"event"`), "not a JSON object"},
		{"oversized", append([]byte(validEvent), bytes.Repeat([]byte(" "), MaxEventSize)...), "limit"},
		{"missing event_id", withField(t, "event_id", ""), "event_id is missing"},
		{"event_id a number", withField(t, "event_id", `12`), "event_id"},
		{"event_id null", withField(t, "event_id", `null`), "event_id"},
		{"event_id without $", withField(t, "event_id", `"ev1:example.org"`), "does not start with '$'"},
		{"event_id only $", withField(t, "event_id", `"$"`), "does not start with '$'"},
		{"event_id too long", withField(t, "event_id", `"$`+strings.Repeat("a", 255)+`"`), "longer than"},
		{"missing room_id", withField(t, "room_id", ""), "room_id is missing"},
		{"room_id an object", withField(t, "room_id", `{}`), "room_id"},
		{"room_id without !", withField(t, "room_id", `"#alias:x"`), "does not start with '!'"},
		{"missing sender", withField(t, "sender", ""), "sender is missing"},
		{"sender a bool", withField(t, "sender", `true`), "sender"},
		{"sender without server", withField(t, "sender", `"@alice"`), "not a user ID"},
		{"sender with empty server", withField(t, "sender", `"@alice:"`), "not a user ID"},
		{"sender without @", withField(t, "sender", `"alice:example.org"`), "not a user ID"},
		{"missing type", withField(t, "type", ""), "type is missing"},
		{"type empty", withField(t, "type", `""`), "type is empty"},
		{"type a number", withField(t, "type", `1`), "type"},
		{"state_key a number", withField(t, "state_key", `0`), "state_key"},
		{"missing origin_server_ts", withField(t, "origin_server_ts", ""), "origin_server_ts is missing"},
		{"origin_server_ts null", withField(t, "origin_server_ts", `null`), "origin_server_ts is missing"},
		{"origin_server_ts a string", withField(t, "origin_server_ts", `"1700000000000"`), "origin_server_ts"},
		{"origin_server_ts negative", withField(t, "origin_server_ts", `-1`), "non-negative"},
		{"origin_server_ts fractional", withField(t, "origin_server_ts", `1.5`), "non-negative integer"},
		{"origin_server_ts too big", withField(t, "origin_server_ts", `99999999999999999999`), "non-negative integer"},
		{"missing content", withField(t, "content", ""), "content is missing"},
		{"content an array", withField(t, "content", `[]`), "content"},
		{"content a string", withField(t, "content", `"hi"`), "content"},
		{"content null", withField(t, "content", `null`), "content"},
		{"redacts a number", withField(t, "redacts", `5`), "redacts"},
		{"duplicate key", []byte(`{"event_id":"$a","event_id":"$b","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":1,"content":{}}`), "duplicate key"},
		{"duplicate key after unescaping", []byte(`{"event_id":"$a","event\u005fid":"$b","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":1,"content":{}}`), "duplicate key"},
		// PostgreSQL refuses text that is not UTF-8, and encoding/json
		// would quietly turn it into U+FFFD: the event is malformed.
		{"invalid UTF-8 in content", []byte(strings.Replace(validEvent, "hello", "hel\xfflo", 1)), "not valid UTF-8"},
		{"invalid UTF-8 in a key", []byte(strings.Replace(validEvent, `"msgtype"`, "\"msg\xc3type\"", 1)), "not valid UTF-8"},
		{"UTF-8 encoded surrogate", []byte(strings.Replace(validEvent, "hello", "\xed\xa0\x80", 1)), "not valid UTF-8"},
		// The archive keys rows by these; a NUL would be stored as
		// something else than what the event says.
		{"NUL in event_id", withField(t, "event_id", `"$a\u0000b"`), "event_id contains U+0000"},
		{"NUL in room_id", withField(t, "room_id", `"!r\u0000:x"`), "room_id contains U+0000"},
		{"NUL in sender", withField(t, "sender", `"@a\u0000:x"`), "sender"},
		{"NUL in type", withField(t, "type", `"m.room.message\u0000"`), "type contains U+0000"},
		{"NUL in state_key", withField(t, "state_key", `"\u0000"`), "state_key contains U+0000"},
		{"NUL in redacts", withField(t, "redacts", `"$x\u0000"`), "redacts contains U+0000"},
		{"keys match exactly, not case-insensitively", []byte(`{"EVENT_ID":"$a","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":1,"content":{}}`), "event_id is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.raw)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", e)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseMaxSize(t *testing.T) {
	base := []byte(validEvent)
	pad := MaxEventSize - len(base)
	exact := append(append([]byte(nil), base...), bytes.Repeat([]byte(" "), pad)...)
	if _, err := Parse(exact); err != nil {
		t.Errorf("event of exactly MaxEventSize bytes: %v", err)
	}
	if _, err := Parse(append(exact, ' ')); !errors.Is(err, ErrMalformed) {
		t.Errorf("event one byte over: err = %v, want ErrMalformed", err)
	}
}

// TestParseSizeWithoutUnsigned: the size bound is the event's, without the
// unsigned data the archive drops. A 60 KiB power levels event replacing
// another comes from /messages and /sync with the one it replaced in
// unsigned.prev_content, past MaxEventSize, and was refused: the room's
// state was missing from the archive.
func TestParseSizeWithoutUnsigned(t *testing.T) {
	users := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"@user%06d:example.org":50`, i)
		}
		return `{"users":{` + b.String() + `}}`
	}
	content := users(2100) // about 60 KiB
	ev := func(unsigned string) []byte {
		return []byte(`{"event_id":"$pl:example.org","room_id":"!room:example.org","sender":"@alice:example.org","type":"m.room.power_levels","state_key":"","origin_server_ts":1700000000000,"content":` +
			content + unsigned + `}`)
	}
	received := ev(`,"unsigned":{"prev_content":` + content + `,"age":5}`)
	if len(received) <= MaxEventSize || len(ev("")) > MaxEventSize {
		t.Fatalf("the test's event: %d bytes received, %d without unsigned", len(received), len(ev("")))
	}
	e, err := Parse(received)
	if err != nil {
		t.Fatalf("a 60 KiB state event with its prev_content: %v", err)
	}
	if bytes.Contains(e.Raw, []byte("unsigned")) || len(e.Raw) != len(ev("")) {
		t.Errorf("kept %d bytes, want the event without unsigned (%d)", len(e.Raw), len(ev("")))
	}
	// Past the bound without unsigned, and past the bound received.
	if _, err := Parse([]byte(strings.Replace(string(ev("")), content, users(3500), 1))); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "without its unsigned data") {
		t.Errorf("a 100 KiB event: %v", err)
	}
	huge := ev(`,"unsigned":{"prev_content":` + users(14000) + `}`)
	if _, err := Parse(huge); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "with its unsigned data") {
		t.Errorf("an event of %d bytes received: %v", len(huge), err)
	}
}

// TestParseMaxDepth: an event nests at most MaxDepth levels, counting the
// event object, whether by arrays or objects, and brackets inside strings
// do not count. encoding/json's own bound (10,000) let one event fill the
// whole depth of a transaction or a /messages page it came in, so that
// none of its neighbours could be decoded.
func TestParseMaxDepth(t *testing.T) {
	nested := func(levels int, open, close string) string {
		// levels counts the event object and its content object.
		inner := strings.Repeat(open, levels-2) + "1" + strings.Repeat(close, levels-2)
		return strings.Replace(validEvent, `"body":"hello <b>&"`, `"body":"x","deep":`+inner, 1)
	}
	for _, tt := range []struct {
		name string
		raw  string
		ok   bool
	}{
		{"arrays at the bound", nested(MaxDepth, "[", "]"), true},
		{"arrays past the bound", nested(MaxDepth+1, "[", "]"), false},
		{"objects at the bound", nested(MaxDepth, `{"a":`, "}"), true},
		{"objects past the bound", nested(MaxDepth+1, `{"a":`, "}"), false},
		{"brackets in a string", strings.Replace(validEvent, "hello", strings.Repeat(`[{\"`, MaxDepth), 1), true},
		{"encoding/json's bound", nested(10000, "[", "]"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.raw))
			if tt.ok && err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tt.ok && (!errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nested deeper")) {
				t.Fatalf("Parse: err = %v, want ErrMalformed for nesting", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validEvent))
	f.Add([]byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":7,"content":{},"unsigned":{"redacted_because":{"a":1}}}`))
	f.Add([]byte(`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"m.room.redaction","origin_server_ts":7,"redacts":"$t","state_key":"","content":{"redacts":"$t"}}`))
	f.Add([]byte(`{"event_id":"$a","event\u005fid":"$b"}`))
	f.Add([]byte(`{"unsigned":1,"unsigned":2}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := Parse(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !json.Valid(e.Raw) {
			t.Fatalf("Raw is not valid JSON: %q", e.Raw)
		}
		fields, err := topLevelFields(e.Raw)
		if err != nil {
			t.Fatalf("Raw %q: %v", e.Raw, err)
		}
		if _, ok := fields["unsigned"]; ok {
			t.Fatalf("Raw still has unsigned: %q", e.Raw)
		}
		if !isObject(e.Content) || !json.Valid(e.Content) {
			t.Fatalf("Content is not a JSON object: %q", e.Content)
		}
		if e.RedactedBecause != nil && (!isObject(e.RedactedBecause) || !json.Valid(e.RedactedBecause)) {
			t.Fatalf("RedactedBecause is not a JSON object: %q", e.RedactedBecause)
		}
		if len(e.Raw) > MaxEventSize {
			return
		}
		// What Parse accepted and stored must parse again to the same event.
		again, err := Parse(e.Raw)
		if err != nil {
			t.Fatalf("Parse(Raw) = %v; Raw %q", err, e.Raw)
		}
		if again.ID != e.ID || again.RoomID != e.RoomID || again.Sender != e.Sender || again.Type != e.Type ||
			again.OriginTS != e.OriginTS || again.Redacts != e.Redacts || again.IsState() != e.IsState() {
			t.Fatalf("Parse(Raw) = %+v, want %+v", again, e)
		}
	})
}

// assertSameJSON compares two JSON texts by meaning.
func assertSameJSON(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s = %s: %v", what, got, err)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func TestInRoom(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"missing", `{"event_id":"$a","type":"m.room.redaction"}`, `"room_id":"!r:x"`},
		{"kept", `{"event_id":"$a","room_id":"!other:x"}`, `"room_id":"!other:x"`},
		{"empty object", `{}`, `{"room_id":"!r:x"}`},
		{"not json", `{nope`, `{nope`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(InRoom(json.RawMessage(tc.in), "!r:x")); !strings.Contains(got, tc.want) {
				t.Errorf("InRoom(%s) = %s, want it to contain %s", tc.in, got, tc.want)
			}
		})
	}
}
