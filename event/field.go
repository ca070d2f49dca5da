package event

import "encoding/json"

// StringField returns the string member key of a JSON object, or "" when
// obj is not an object or the member is absent or not a string. Content is
// untrusted: a wrong type reads as absent, never as an error or a panic.
func StringField(obj json.RawMessage, key string) string {
	m, ok := objectFields(obj)
	if !ok {
		return ""
	}
	return stringField(m, key)
}

// ContentOf returns the "content" member of a whole event's JSON, or {} when
// there is none. The store keeps each event's JSON once and reads its
// content from it.
func ContentOf(raw []byte) json.RawMessage {
	m, err := topLevelFields(raw)
	if err != nil || !isObject(m["content"]) {
		return emptyObject()
	}
	return m["content"]
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
