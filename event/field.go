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
	return memberString(obj, key)
}

// ContentOf returns the "content" member of a whole event's JSON, or {} when
// there is none. The store keeps each event's JSON once and reads its
// content from it, for every event it reads: so the JSON is checked and
// the member found in one walk of its bytes (contentChecked), without
// decoding the event into a map (as topLevelFields does, with the same
// answers: an event that is not an object or has a key twice has no
// content).
func ContentOf(raw []byte) json.RawMessage {
	c, ok := contentChecked(raw)
	if !ok || !isObject(c) {
		return emptyObject()
	}
	return c
}

// contentChecked is validJSON(raw), then topLevelFields(raw)["content"],
// in one walk: ok is false where either fails, and c is nil when raw has
// no content. The checks are validJSON's own (validString, validValue), so
// an event is judged as it was when the JSON was checked in a walk of its
// own and the member found in another: that second walk was a third of a
// day page's reading of its events.
func contentChecked(raw []byte) (c json.RawMessage, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false // not an object, valid or not
	}
	var keys [16][]byte // events have about eight members
	n := 0
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return nil, skipSpace(raw, i+1) == len(raw)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, false
		}
		end, valid := validString(raw, i)
		if !valid {
			return nil, false
		}
		k := raw[i+1 : end-1]
		if bytes.IndexByte(k, '\\') >= 0 || !utf8.Valid(k) {
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
			// topLevelFields checks the whole JSON itself.
			m, err := topLevelFields(raw)
			return m["content"], err == nil
		}
		keys[n], n = k, n+1
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
		vend, valid := validValue(raw, i, 1) // inside the event's object
		if !valid {
			return nil, false
		}
		if string(k) == "content" {
			c = raw[i:vend:vend]
		}
		i = skipSpace(raw, vend)
		switch {
		case i >= len(raw):
			return nil, false
		case raw[i] == '}':
			return c, skipSpace(raw, i+1) == len(raw)
		case raw[i] != ',':
			return nil, false
		}
		i = skipSpace(raw, i+1)
	}
}

// InRoom returns raw with "room_id" set to roomID when it has none: /sync
// serves events without it, keyed by room instead. An event that names a
// room keeps its own, and Parse will judge it.
func InRoom(raw json.RawMessage, roomID string) json.RawMessage {
	var w topMembers
	if w.parse(raw) != nil {
		return raw // Parse reports it
	}
	if w.get("room_id") != nil {
		return raw
	}
	id, _ := json.Marshal(roomID)
	out, err := w.encodeEdited("", "room_id", id, len(raw)+len(id)+len(`,"room_id":`)+1)
	if err != nil {
		return raw
	}
	return out
}
