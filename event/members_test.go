package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"maunium.net/go/mautrix/id"
)

// The walks that find an event's members (topMembers, for Parse) and a
// relation's or a media message's (lastMember) give what decoding each
// object into a map gave, as the code did before them: the references
// below are that code.

// withoutUnsignedByMap is withoutUnsigned over topLevelFields's map.
func withoutUnsignedByMap(raw []byte, fields map[string]json.RawMessage) (json.RawMessage, error) {
	if _, ok := fields["unsigned"]; !ok {
		return append(json.RawMessage(nil), raw...), nil
	}
	rest := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		if k != "unsigned" {
			rest[k] = v
		}
	}
	out, err := encodeObject(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return out, nil
}

// parseRelationByMaps is ParseRelation over objectFields's maps.
func parseRelationByMaps(content json.RawMessage) Relation {
	fields, ok := objectFields(content)
	if !ok {
		return Relation{}
	}
	rel, ok := objectFields(fields["m.relates_to"])
	if !ok {
		return Relation{}
	}
	eventIDField := func(m map[string]json.RawMessage, key string) id.EventID {
		s := stringField(m, key)
		if len(s) < 2 || len(s) > maxIDLength || s[0] != '$' {
			return ""
		}
		return id.EventID(s)
	}
	var r Relation
	relType := stringField(rel, "rel_type")
	if relType == relThreadUnstable {
		relType = RelThread
	}
	switch relType {
	case RelReplace, RelAnnotation, RelThread, RelReference:
		target := eventIDField(rel, "event_id")
		key := truncateKey(stringField(rel, "key"))
		if target != "" && (relType != RelAnnotation || key != "") {
			r.Type, r.EventID = relType, target
			if relType == RelAnnotation {
				r.Key = key
			}
		}
	}
	if reply, ok := objectFields(rel["m.in_reply_to"]); ok {
		var falling bool
		if relType == RelThread {
			_ = json.Unmarshal(rel["is_falling_back"], &falling)
		}
		if !falling {
			r.ReplyTo = eventIDField(reply, "event_id")
		}
	}
	return r
}

// mediaRefsByMaps is MediaRefs over objectFields's maps.
func mediaRefsByMaps(typ string, content json.RawMessage) []MXC {
	if typ != TypeMessage && typ != TypeSticker {
		return nil
	}
	var out []MXC
	add := func(s string) {
		m, ok := ParseMXC(s)
		if !ok {
			return
		}
		for _, o := range out {
			if o == m {
				return
			}
		}
		out = append(out, m)
	}
	var walk func(c json.RawMessage, depth int)
	walk = func(c json.RawMessage, depth int) {
		f, ok := objectFields(c)
		if !ok {
			return
		}
		if typ == TypeSticker || mediaMsgTypes[stringField(f, "msgtype")] {
			add(stringField(f, "url"))
			if info, ok := objectFields(f["info"]); ok {
				add(stringField(info, "thumbnail_url"))
			}
		}
		if depth == 0 {
			walk(f["m.new_content"], 1)
		}
	}
	if f, ok := objectFields(content); ok && ParseRelation(content).Type == RelReplace {
		walk(f["m.new_content"], 1)
		return out
	}
	walk(content, 0)
	return out
}

// checkMembersAsMap fails t where topMembers finds other members of raw
// than topLevelFields, another error, or another event without unsigned.
func checkMembersAsMap(t *testing.T, raw []byte) {
	t.Helper()
	for _, typ := range relationTypes {
		if got, want := EventMediaRefs(typ, raw), MediaRefs(typ, ContentOf(raw)); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: EventMediaRefs(%s) %v, want %v", raw, typ, got, want)
		}
	}
	want, wantErr := topLevelFields(raw)
	var m topMembers
	err := m.parse(raw)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("%q: error %v, want %v", raw, err, wantErr)
	}
	if err != nil {
		return
	}
	got := m.fields()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: members %q, want %q", raw, got, want)
	}
	for k, v := range want {
		if g := m.get(k); !bytes.Equal(g, v) || g == nil {
			t.Fatalf("%q: get(%q) = %q, want %q", raw, k, g, v)
		}
	}
	for _, k := range []string{"unsigned", "content", "event_id", "nothing", "", "Content"} {
		if _, ok := want[k]; !ok && m.get(k) != nil {
			t.Fatalf("%q: get(%q) = %q, want none", raw, k, m.get(k))
		}
	}
	if got, want := redactedBecause(m.get("unsigned")), redactedBecauseByMap(want["unsigned"]); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Fatalf("%q: redacted_because %q, want %q", raw, got, want)
	}
	// A room ID as /sync's events lack it, and one encoding/json escapes.
	for _, room := range []string{"!r:x", "!<&>\"\\\u2028é:x"} {
		if got, want := InRoom(raw, room), inRoomByMap(raw, room); !bytes.Equal(got, want) {
			t.Fatalf("%q: in room %q %q, want %q", raw, room, got, want)
		}
	}
	gotRaw, gotErr := withoutUnsigned(raw, &m)
	wantRaw, wantErr := withoutUnsignedByMap(raw, want)
	if !bytes.Equal(gotRaw, wantRaw) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%q: without unsigned %q (%v), want %q (%v)", raw, gotRaw, gotErr, wantRaw, wantErr)
	}
}

// An event from a homeserver, its keys plain and its age in unsigned, is
// re-encoded by encodePlain, not by the map (checkMembersAsMap holds the
// two to the same bytes), and so is one from /sync given its room; a key
// encoding/json escapes takes the map's way.
func TestEncodePlainTakesPlainEvents(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"content":{"body":"hi"},"event_id":"$e","origin_server_ts":1,"room_id":"!r:x","sender":"@a:x","type":"m.room.message","unsigned":{"age":5}}`: true,
		`{"unsigned":{},"b":"<&>","a":"\u2028","A":1,"_":true,"a0":null,"~":-1.5e+3}`:                                                                  true,
		`{"unsigned":{},"k\u0001":1}`: false,
		`{"unsigned":{},"é":1}`:       false,
		`{"unsigned":{},"a\"b":1}`:    false,
		`{"unsigned":{},"a\\b":1}`:    false,
	} {
		var m topMembers
		if err := m.parse([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		if _, ok := m.encodePlain("unsigned", "", nil, len(raw)); ok != want {
			t.Errorf("%s: without unsigned, encodePlain ok %v, want %v", raw, ok, want)
		}
		if _, ok := m.encodePlain("", "room_id", json.RawMessage(`"!r:x"`), len(raw)); ok != want {
			t.Errorf("%s: with a room, encodePlain ok %v, want %v", raw, ok, want)
		}
	}
}

// inRoomByMap is InRoom over topLevelFields's map.
func inRoomByMap(raw json.RawMessage, roomID string) json.RawMessage {
	m, err := topLevelFields(raw)
	if err != nil {
		return raw
	}
	if _, ok := m["room_id"]; ok {
		return raw
	}
	id, _ := json.Marshal(roomID)
	m["room_id"] = id
	out, err := encodeObject(m)
	if err != nil {
		return raw
	}
	return out
}

// redactedBecauseByMap is Parse's reading of unsigned.redacted_because
// over objectFields's map.
func redactedBecauseByMap(unsigned json.RawMessage) json.RawMessage {
	if u, ok := objectFields(unsigned); ok {
		if rb := u["redacted_because"]; isObject(rb) {
			return rb
		}
	}
	return nil
}

// memberSeeds are events and objects for the member walks: valid,
// malformed, keys escaped, repeated, or not UTF-8, and objects of more
// and fewer members than topMembers lists.
func memberSeeds() []string {
	seeds := []string{
		validEvent,
		``, `{`, `[]`, `null`, `"x"`, `{}`, ` { } `, `{"a":1} x`, `{"a":1,}`,
		`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"t","origin_server_ts":7,"content":{},"unsigned":{"redacted_because":{"a":1}}}`,
		`{"event_id":"$e","room_id":"!r:x","sender":"@a:x","type":"m.room.redaction","origin_server_ts":7,"redacts":"$t","state_key":"","content":{"redacts":"$t"}}`,
		`{"event_id":"$a","event\u005fid":"$b"}`,
		`{"unsigned":1,"unsigned":2}`,
		`{"unsigned":null,"content":{"b":1,"a":2},"z":[1, 2]}`,
		`{ "content" : { "body" : "x" } , "unsigned" : { "age" : 5 } , "a<b" : "&" }`,
		"{\"k\xff\":1,\"k\xfe\":2}",
		"{\"k\xff\":1,\"k\\ufffd\":2}",
		`{"\u00e9":1,"é":2}`,
		`{"a\"b":1,"a\u0022b":2}`,
		`{"":1,"":2}`,
		`{"":1}`,
		`{"content":{},"CONTENT":{},"Content":1}`,
		`{"content":{"m.relates_to":{"rel_type":"m.replace","event_id":"$x"}},"unsigned":{"m.relations":{}},"x":"\u2028"}`,
		`{"content":{},"unsigned":{"age":5,"redacted_because":{"event_id":"$r"}}}`,
		`{"content":{},"unsigned":{"redacted_because":{"a":1},"redacted_because":{"b":2}}}`,
		`{"content":{},"unsigned":{"redacted_because":{"a":1},"redacted\u005fbecause":"x"}}`,
		`{"content":{},"unsigned":{"redacted_because":"$r"}}`,
		`{"content":{},"unsigned":{"redacted_because":null}}`,
		`{"content":{},"unsigned":[{"redacted_because":{"a":1}}]}`,
		`{"content":{},"unsigned": { "redacted_because" : { } } }`,
		// Re-encoded without unsigned (encodePlain): whitespace in and
		// out of strings, escapes before it, keys out of order, and keys
		// encoding/json escapes, which take encodeObject's way.
		"{\"z\" : [ 1 ,\t2 ,\n{ \"a b\" : \"c \\\" d\\\\\" , \"e\":\" \\\\ \" } ] , \"unsigned\":{ \"age\" : 1 },\r\n\"a\": \"\\u0020 x\" }",
		`{"unsigned":{},"b":"<&>","a":"\u2028","A":1,"_":true,"a0":null,"~":-1.5e+3}`,
		`{"unsigned":{},"k\u0001":1,"a":2}`,
		"{\"unsigned\":{},\"k\x7f\":1,\"a\":2}",
		`{"unsigned":{},"é":1,"a":2}`,
		`{"unsigned":{},"\u2028":1,"a":2}`,
		`{"unsigned":{},"a<b":1,"a&b":2,"a>b":3}`,
		`{"unsigned":{},"content":{"body":"line\nbreak","formatted_body":"<b>x</b>"},"event\u005fid":"$e"}`,
		`{"unsigned":1}`,
		"{\"unsigned\":{},\"a\":[1,\r2,\t3,\n4, 5]}",
		`{"unsigned":{},"a\"b":1,"c\\d":2,"e/f":3,"g\/h":4}`,
		`{"unsigned":{},"c\\d":2,"e/f":3,"g\/h":4}`,
	}
	seeds = append(append(seeds, mediaEventSeeds...), plainEscapes)
	for _, n := range []int{maxListedMembers - 1, maxListedMembers, maxListedMembers + 1, 3 * maxListedMembers} {
		var b strings.Builder
		b.WriteString(`{"content":{"body":"x"}`)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, `,"k%02d":%d`, i, i)
		}
		seeds = append(seeds, b.String()+`}`, b.String()+`,"unsigned":{"a":1}}`,
			b.String()+`,"content":2}`, b.String()+`,"k01":2}`, b.String()+`,"k\u0030${1}":2}`)
	}
	return seeds
}

// plainEscapes is an event of no media whose bytes have a backslash
// before a 'u' and a '/', each an escaped backslash's second byte.
const plainEscapes = `{"content":{"msgtype":"m.file","url":"mxc:\\u002f/hs/f","body":"\\/"}}`

// mediaEventSeeds are events with media (EventMediaRefs), their URIs
// plain and spelt with escapes, and one with an escaped backslash before
// a 'u'.
var mediaEventSeeds = []string{
	`{"type":"m.room.message","content":{"msgtype":"m.image","body":"a.png","url":"mxc://hs/a","info":{"thumbnail_url":"mxc://hs/t"}}}`,
	`{"content":{"msgtype":"m.image","url":"mxc:\/\/hs\/a"}}`,
	`{"content":{"msgtype":"m.image","url":"mxc:/\/hs/a"}}`,
	`{"content":{"msgtype":"m.image","url":"\u006dxc://hs/a"}}`,
	`{"content":{"msgtype":"m.image","url":"mxc\u003a//hs/a"}}`,
	`{"content":{"msgtype":"m.im\u0061ge","url":"mxc://hs/a"}}`,
	`{"content":{"msgtype":"m.image","body":"a\nb \\ c","url":"\u006dxc:\/\/hs/a"}}`,
	`{"content":{"url":"mxc://hs/s","info":{"thumbnail_url":"mxc:\u002f/hs/t"}}}`,
	`{"content":{"msgtype":"m.file","url":"mxc://hs/f","body":"C:\\users\\x"}}`,
	`{"content":{"msgtype":"m.text","body":"see mxc://hs/a","m.new_content":{"msgtype":"m.image","url":"mxc://hs/b"}}}`,
}

// EventMediaRefs answers an event whose bytes cannot spell an mxc URI
// without reading its JSON (mayNameMXC), and reads every other:
// TestMembersAsMap holds its answers to MediaRefs over both.
func TestMayNameMXC(t *testing.T) {
	for _, raw := range []string{validEvent, `{"content":{"msgtype":"m.text","body":"a \"quoted\" line\nC:\\dir\\ at http://x/y"}}`, plainEscapes} {
		if mayNameMXC([]byte(raw)) {
			t.Errorf("%s: may name an mxc URI", raw)
		}
	}
	for _, raw := range mediaEventSeeds {
		if !mayNameMXC([]byte(raw)) {
			t.Errorf("%s: names none", raw)
		}
	}
	plain := 0
	for _, raw := range corpusEvents(t) {
		if !mayNameMXC(raw) {
			plain++
		}
	}
	if plain == 0 {
		t.Error("every event of the demo rooms may name an mxc URI: the shortcut is never taken")
	}
}

// corpusEvents are the demo rooms' events and the import tests' malformed
// ones: edits, replies, threads, reactions, images, state.
func corpusEvents(t testing.TB) [][]byte {
	var out [][]byte
	for _, path := range []string{"../testdata/demo/opendev-infra.ndjson", "../testdata/demo/ansible-community.ndjson", "../testdata/import/malformed.ndjson"} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			out = append(out, bytes.Clone(sc.Bytes()))
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 200 {
		t.Fatalf("%d corpus events; the demo rooms hold about 200", len(out))
	}
	return out
}

func TestMembersAsMap(t *testing.T) {
	for _, s := range memberSeeds() {
		checkMembersAsMap(t, []byte(s))
	}
	for _, raw := range corpusEvents(t) {
		checkMembersAsMap(t, raw)
	}
}

func FuzzMembersAsMap(f *testing.F) {
	for _, s := range memberSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkMembersAsMap(t, raw) })
}

// relationSeeds are contents for ParseRelation and MediaRefs: relations
// and media fields of every type, repeated, escaped and nested.
var relationSeeds = []string{
	``, `{"m.relates_to":`, `["m.relates_to"]`, `{"body":"hi"}`, `{"m.relates_to":"$e"}`, `{"m.relates_to":null}`,
	`{"m.relates_to":[{"rel_type":"m.replace","event_id":"$e"}]}`,
	`{"m.new_content":{"body":"x"},"m.relates_to":{"rel_type":"m.replace","event_id":"$orig"}}`,
	`{"m.relates_to":{"rel_type":"m.reference","event_id":"$poll"}}`,
	`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":"👍"}}`,
	`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":""}}`,
	`{"m.relates_to":{"rel_type":"m.annotation","event_id":"$m","key":"` + strings.Repeat("😀", 70) + `"}}`,
	`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":true,"m.in_reply_to":{"event_id":"$l"}}}`,
	`{"m.relates_to":{"rel_type":"io.element.thread","event_id":"$root","is_falling_back":false,"m.in_reply_to":{"event_id":"$l"}}}`,
	`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root","is_falling_back":"yes","m.in_reply_to":{"event_id":"$l"}}}`,
	`{"m.relates_to":{"rel_type":"m.thread","is_falling_back":true,"is_falling_back":false,"m.in_reply_to":{"event_id":"$l"}}}`,
	`{"m.relates_to":{"m.in_reply_to":{"event_id":"$r"}}}`,
	`{"m.relates_to":{"m.in_reply_to":{"event_id":"$r","event_id":"$s"}}}`,
	`{"m.relates_to":{"m.in_reply_to":"$r"}}`,
	`{"m.relates_to":{"m.in_reply_to":{"event_id":5}}}`,
	`{"m.relates_to":{"m.in_reply_to":{"event_id":"$` + strings.Repeat("a", 300) + `"}}}`,
	`{"m.relates_to":{"rel_type":"m.replace","event_id":"$a"},"m.relates_to":{"rel_type":"m.reference","event_id":"$b"}}`,
	`{"m.relates_to":{"rel_type":"m.replace","rel_type":"m.annotation","event_id":"$a","key":"k"}}`,
	`{"m.relates_to":{"rel_type":"m.replace","event_id":"$a","event_id":null}}`,
	`{"m\u002erelates_to":{"rel_\u0074ype":"m.replace","event_id":"$\u0061"}}`,
	"{\"m.relates_to\":{\"rel_type\":\"m.replace\",\"event_id\":\"$a\xffb\"}}",
	"{\"m.relates_to\xff\":{\"rel_type\":\"m.replace\",\"event_id\":\"$a\"}}",
	`{"m.relates_to":{"rel_type":"m.replace","event_id":"a"}}`,
	`{"m.relates_to":{"rel_type":"m.replace","event_id":"$"}}`,
	` { "m.relates_to" : { "rel_type" : "m.replace" , "event_id" : "$x" } } `,
	`{"msgtype":"m.image","body":"a.png","url":"mxc://hs/a","info":{"thumbnail_url":"mxc://hs/t"}}`,
	`{"body":"s","url":"mxc://hs/s","info":{"thumbnail_url":"mxc://hs/s"}}`,
	`{"msgtype":"m.text","body":"x","url":"mxc://hs/a"}`,
	`{"msgtype":"m.file","body":"x","url":"mxc://hs/../a","info":"bad"}`,
	`{"msgtype":"m.file","body":"x","file":{"url":"mxc://hs/enc"}}`,
	`{"msgtype":"m.video","url":42,"info":{"thumbnail_url":"mxc://hs/t"}}`,
	`{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":{"msgtype":"m.image","url":"mxc://hs/b"}}`,
	`{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":{"msgtype":"m.image","url":"mxc://hs/b","m.new_content":{"msgtype":"m.image","url":"mxc://hs/c"}}}`,
	`{"msgtype":"m.image","msgtype":"m.text","url":"mxc://hs/a"}`,
	`{"msgtype":"m.text","msgtype":"m.audio","url":"mxc://hs/a","url":"mxc://hs/b","info":{"thumbnail_url":"mxc://hs/t"},"info":null}`,
	`{"msg\u0074ype":"m.image","\u0075rl":"mxc://hs/a","info":{"thumbnail\u005furl":"mxc://hs/t"}}`,
	`{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":"x"}`,
	`{"msgtype":"m.image","url":"mxc://hs/a","m.new_content":[{"url":"mxc://hs/b"}]}`,
	`[1]`, `null`, `{"url":"mxc://hs/a"}`,
}

// relationTypes are the event types MediaRefs is asked with.
var relationTypes = []string{TypeMessage, TypeSticker, TypeReaction, ""}

func checkRelationAsMaps(t *testing.T, content []byte) {
	t.Helper()
	if got, want := ParseRelation(content), parseRelationByMaps(content); got != want {
		t.Fatalf("ParseRelation(%q) = %+v, want %+v", content, got, want)
	}
	for _, typ := range relationTypes {
		if got, want := MediaRefs(typ, content), mediaRefsByMaps(typ, content); !reflect.DeepEqual(got, want) {
			t.Fatalf("MediaRefs(%s, %q) = %v, want %v", typ, content, got, want)
		}
	}
}

func TestParseRelationAsMaps(t *testing.T) {
	for _, s := range relationSeeds {
		checkRelationAsMaps(t, []byte(s))
	}
	found := 0
	for _, raw := range corpusEvents(t) {
		c, ok := contentChecked(raw)
		if !ok {
			continue
		}
		if parseRelationByMaps(c) != (Relation{}) {
			found++
		}
		checkRelationAsMaps(t, c)
	}
	if found == 0 {
		t.Fatal("no relation in the demo rooms: the corpus checks nothing")
	}
}

func TestMediaRefsAsMaps(t *testing.T) {
	// The seeds' media fields, and the demo rooms' images.
	found := 0
	for _, raw := range corpusEvents(t) {
		if c, ok := contentChecked(raw); ok && len(mediaRefsByMaps(TypeMessage, c)) > 0 {
			found++
			checkRelationAsMaps(t, c)
		}
	}
	if found == 0 {
		t.Fatal("no media in the demo rooms: the corpus checks nothing")
	}
	for _, s := range relationSeeds {
		if len(mediaRefsByMaps(TypeMessage, []byte(s))) > 0 {
			found++
		}
	}
	if found < 5 {
		t.Fatalf("%d contents with media", found)
	}
}

func FuzzParseRelationAsMaps(f *testing.F) {
	for _, s := range relationSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, content []byte) { checkRelationAsMaps(t, content) })
}

var intSeeds = []string{
	"0", "1", "7", "1700000000000", "1104541140001", "9223372036854775807", "9223372036854775808",
	"99999999999999999999", "1234567890123456789", "-1", "-0", "1.5", "1e3", "1E3", "10.0",
	"null", `"1"`, "true", "{}", "[]", " 1", "1 ", "",
}

// TestDecodeIntAsUnmarshal: the digits' fast path reads what the decoder
// reads, and fails where it fails.
func TestDecodeIntAsUnmarshal(t *testing.T) {
	for _, s := range intSeeds {
		checkIntAsUnmarshal(t, []byte(s))
	}
}

func FuzzDecodeIntAsUnmarshal(f *testing.F) {
	for _, s := range intSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		if json.Valid(v) {
			checkIntAsUnmarshal(t, v)
		}
	})
}

func checkIntAsUnmarshal(t *testing.T, v []byte) {
	t.Helper()
	got, want := int64(-7), int64(-7)
	gotErr, wantErr := decodeInt(v, &got), json.Unmarshal(v, &want)
	if (gotErr == nil) != (wantErr == nil) || (wantErr == nil && got != want) {
		t.Fatalf("decodeInt(%q) = %d, %v; json.Unmarshal: %d, %v", v, got, gotErr, want, wantErr)
	}
}
