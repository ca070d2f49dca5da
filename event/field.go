package event

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// StringField returns the string member key of a JSON object, or "" when
// obj is not an object or the member is absent or not a string. Content is
// untrusted: a wrong type reads as absent, never as an error or a panic.
//
// It walks obj's bytes instead of decoding it into a map, with the map's
// answers (the last of a key given twice, an escaped key as the key it
// decodes to): a room's via servers read the membership of every member
// event it ever had, and decoding each into a map was 40% of that
// (TestStringFieldAsMap, FuzzStringFieldAsMap).
func StringField(obj json.RawMessage, key string) string {
	if !validJSON(obj) {
		return ""
	}
	v := lastMember(obj, key)
	switch {
	case len(v) == 0 || v[0] != '"':
		return "" // absent, not an object, or not a string
	case bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v):
		return string(v[1 : len(v)-1])
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return ""
	}
	return s
}

// ContentOf returns the "content" member of a whole event's JSON, or {} when
// there is none. The store keeps each event's JSON once and reads its
// content from it, for every event it reads: so the JSON is checked with
// validJSON and the member found without decoding the event into a map
// (as topLevelFields does, with the same answers: an event that is not
// an object or has a key twice has no content).
func ContentOf(raw []byte) json.RawMessage {
	if !validJSON(raw) {
		return emptyObject()
	}
	c, ok := contentMember(raw)
	if !ok || !isObject(c) {
		return emptyObject()
	}
	return c
}

// contentMember is topLevelFields(raw)["content"] for valid JSON; ok is
// false where topLevelFields fails.
func contentMember(raw []byte) (c json.RawMessage, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	var keys [16][]byte // events have about eight members
	n := 0
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] != '}' {
		end := stringEnd(raw, i)
		k := raw[i+1 : end-1]
		if bytes.IndexByte(raw[i:end], '\\') >= 0 || !utf8.Valid(raw[i:end]) {
			var dec string
			if json.Unmarshal(raw[i:end], &dec) != nil {
				return nil, false
			}
			k = []byte(dec)
		}
		for _, prev := range keys[:n] {
			if bytes.Equal(prev, k) {
				return nil, false // a key twice
			}
		}
		if n == len(keys) {
			m, err := topLevelFields(raw)
			return m["content"], err == nil
		}
		keys[n], n = k, n+1
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // the ':'
		vend := valueEnd(raw, i)
		if string(k) == "content" {
			c = raw[i:vend:vend]
		}
		i = skipSpace(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return c, true
}

// InRoom returns raw with "room_id" set to roomID when it has none: /sync
// serves events without it, keyed by room instead. An event that names a
// room keeps its own, and Parse will judge it.
func InRoom(raw json.RawMessage, roomID string) json.RawMessage {
	m, err := topLevelFields(raw)
	if err != nil {
		return raw // Parse reports it
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
